/* Live pages: keep what the server rendered current without a reload.
 *
 * Every element with data-live="/ws/..." opens one websocket. The page keeps the last
 * version it applied per stream (rendered into the JSON script named by data-versions),
 * sends them on every (re)connect and every SYNC_MS ("resume"), and the server first sends
 * what it missed from the event store, then live events. A version already applied is a
 * duplicate and is ignored; a version past the next one is a gap: the page asks for the
 * range ("fetch") instead of applying it. Reconnects back off exponentially with jitter.
 * Protocol: docs/live.md. Keep timelineEntry in step with championships/timeline.py.
 */
(function () {
  "use strict";

  var SYNC_MS = 20000;
  var CLOSE_NOT_FOUND = 4404;
  var BACKOFF_FIRST_MS = 500;
  var BACKOFF_MAX_MS = 15000;
  var STATUS_LABELS = {
    scheduled: "Scheduled", live: "Live", completed: "Completed", postponed: "Postponed",
    cancelled: "Cancelled", awarded: "Awarded (forfeit)"
  };
  var connections = [];

  function Connection(root) {
    var script = document.getElementById(root.getAttribute("data-versions"));
    this.root = root;
    this.path = root.getAttribute("data-live");
    this.versions = script ? JSON.parse(script.textContent) : {};
    this.fetching = {};
    this.attempt = 0;
    this.applied = 0;
    this.socket = null;
    this.timer = null;
    this.connect();
  }

  Connection.prototype.url = function () {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + this.path;
  };

  Connection.prototype.setState = function (state, text) {
    this.root.setAttribute("data-live-connection", state);
    var el = this.root.querySelector("[data-live-state]");
    if (el) {
      el.setAttribute("data-state", state);
      el.textContent = text;
    }
  };

  Connection.prototype.connect = function () {
    var self = this;
    var socket;
    try {
      socket = new WebSocket(this.url());
    } catch (e) {
      this.reconnect();
      return;
    }
    this.socket = socket;
    socket.onopen = function () {
      self.fetching = {};
      self.resume();
      clearInterval(self.timer);
      self.timer = setInterval(function () { self.resume(); }, SYNC_MS);
    };
    socket.onmessage = function (message) {
      var data;
      try {
        data = JSON.parse(message.data);
      } catch (e) {
        return;
      }
      self.receive(data);
    };
    socket.onclose = function (event) {
      clearInterval(self.timer);
      if (self.socket !== socket) {
        return;
      }
      self.socket = null;
      if (event.code === CLOSE_NOT_FOUND) {
        // Gone (the championship became a draft, or never was public): retrying would
        // only be refused again.
        self.setState("gone", "No longer available: this page no longer updates.");
        return;
      }
      self.reconnect();
    };
  };

  Connection.prototype.reconnect = function () {
    var self = this;
    var ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * Math.pow(2, this.attempt));
    var delay = ceiling / 2 + Math.random() * ceiling / 2;
    this.attempt += 1;
    this.setState("closed", "Reconnecting\u2026 (the page catches up when it is back)");
    setTimeout(function () { self.connect(); }, delay);
  };

  Connection.prototype.send = function (request) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(request));
    }
  };

  Connection.prototype.resume = function () {
    this.send({ type: "resume", versions: this.versions });
  };

  Connection.prototype.fetch = function (streamId, after) {
    if (this.fetching[streamId]) {
      return;
    }
    this.fetching[streamId] = true;
    this.send({ type: "fetch", stream_id: streamId, after: after });
  };

  Connection.prototype.receive = function (data) {
    if (data.event_id) {
      this.event(data);
    } else if (data.type === "synced") {
      this.synced(data.versions || {});
    } else if (data.type === "error" && window.console) {
      console.warn("live updates:", data.error);
    }
  };

  Connection.prototype.synced = function (heads) {
    this.attempt = 0;
    this.fetching = {};
    this.setState("open", "Live: this page updates by itself.");
    for (var streamId in heads) {
      if (streamId in this.versions && this.versions[streamId] < heads[streamId]) {
        this.fetch(streamId, this.versions[streamId]);  // the catch-up was cut short
      }
    }
  };

  Connection.prototype.event = function (envelope) {
    var streamId = envelope.stream_id;
    if (!(streamId in this.versions)) {
      // A stream the page did not render (e.g. another match of the championship).
      apply(envelope);
      return;
    }
    var last = this.versions[streamId];
    if (envelope.version <= last) {
      return;  // a duplicate: already applied
    }
    if (envelope.version > last + 1) {
      this.fetch(streamId, last);  // a gap: get the range, this event included
      return;
    }
    this.versions[streamId] = envelope.version;
    this.applied += 1;
    this.root.setAttribute("data-live-applied", String(this.applied));
    apply(envelope);
  };

  /* ---- what an event changes on the page ------------------------------------------ */

  function each(selector, fn) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), fn);
  }

  function matchElements(matchId) {
    return document.querySelectorAll('[data-match="' + matchId + '"]');
  }

  function setField(el, field, text) {
    Array.prototype.forEach.call(el.querySelectorAll('[data-field="' + field + '"]'), function (f) {
      f.textContent = text;
    });
  }

  function setScore(matchId, home, away) {
    Array.prototype.forEach.call(matchElements(matchId), function (el) {
      setField(el, "home_score", String(home));
      setField(el, "away_score", String(away));
      setField(el, "dash", "\u2013");
      el.classList.remove("goal-flash");
      void el.offsetWidth;  // restart the animation
      el.classList.add("goal-flash");
    });
  }

  function setStatus(matchId, status) {
    Array.prototype.forEach.call(matchElements(matchId), function (el) {
      el.setAttribute("data-status", status);
      setField(el, "status", STATUS_LABELS[status] || status);
    });
    tickClocks();
  }

  function setClock(matchId, minute, since) {
    Array.prototype.forEach.call(matchElements(matchId), function (el) {
      Array.prototype.forEach.call(el.querySelectorAll('[data-field="clock"]'), function (c) {
        c.setAttribute("data-minute", String(minute));
        c.setAttribute("data-since", since);
      });
    });
    tickClocks();
  }

  function tickClocks() {
    each('[data-field="clock"]', function (c) {
      var owner = c.closest("[data-match]");
      var since = Date.parse(c.getAttribute("data-since") || "");
      if (!owner || owner.getAttribute("data-status") !== "live" || isNaN(since)) {
        c.textContent = "";
        return;
      }
      var base = parseInt(c.getAttribute("data-minute"), 10) || 0;
      var running = Math.max(0, Math.floor((Date.now() - since) / 60000));
      c.textContent = Math.min(base + running, 150) + "\u2032";
    });
  }

  function teamName(teamId) {
    var el = document.querySelector('[data-team-name="' + teamId + '"]');
    return el ? el.textContent : "";
  }

  function score(home, away) {
    return home + "\u2013" + away;
  }

  function withReason(text, reason) {
    return reason ? text + ": " + reason : text;
  }

  var CARDS = { yellow: "Yellow card", second_yellow: "Second yellow card", red: "Red card" };

  function resultExtra(p) {
    var text = p.extra_time ? " a.e.t." : "";
    if (p.penalties_home !== null && p.penalties_home !== undefined) {
      text += " (" + score(p.penalties_home, p.penalties_away) + " pens)";
    }
    return text;
  }

  function timelineEntry(envelope, homeTeamId) {
    var p = envelope.payload;
    switch (envelope.event_type) {
      case "MatchStarted":
        return { minute: 0, kind: "start", side: "", text: "Kick-off" };
      case "GoalScored": {
        var extra = p.penalty ? " (pen.)" : p.own_goal ? " (o.g.)" : "";
        return {
          minute: p.minute, kind: "goal", side: p.team_id === homeTeamId ? "home" : "away",
          text: (p.player || "Goal") + extra + " \u00b7 " + teamName(p.team_id) + " " +
            score(p.home_score, p.away_score)
        };
      }
      case "CardShown":
        return {
          minute: p.minute, kind: "card-" + p.card, side: p.team_id === homeTeamId ? "home" : "away",
          text: (CARDS[p.card] || p.card) + ": " + (p.player || "unnamed") + " \u00b7 " + teamName(p.team_id)
        };
      case "TeamAdvanced":
        return { minute: null, kind: "note", side: "", text: (teamName(p.team_id) || "A team") + " goes through" };
      case "MatchCompleted":
        return { minute: null, kind: "end", side: "", text: "Full time " + score(p.home_score, p.away_score) + resultExtra(p) };
      case "MatchResultCorrected":
        return { minute: null, kind: "note", side: "", text: withReason("Result corrected to " + score(p.home_score, p.away_score) + resultExtra(p), p.reason) };
      case "MatchAwarded":
        return { minute: null, kind: "note", side: "", text: withReason("Awarded " + score(p.home_score, p.away_score), p.reason) };
      case "MatchPostponed":
        return { minute: null, kind: "note", side: "", text: withReason("Postponed", p.reason) };
      case "MatchCancelled":
        return { minute: null, kind: "note", side: "", text: withReason("Cancelled", p.reason) };
    }
    return null;
  }

  function addToTimeline(envelope) {
    each('[data-timeline="' + envelope.stream_id + '"]', function (list) {
      if (list.querySelector('[data-version="' + envelope.version + '"]')) {
        return;
      }
      var board = document.querySelector('.scoreboard[data-match="' + envelope.stream_id + '"]');
      var entry = timelineEntry(envelope, board ? board.getAttribute("data-home") : "");
      if (!entry) {
        return;
      }
      var li = document.createElement("li");
      li.className = "kind-" + entry.kind + (entry.side ? " side-" + entry.side : "") + " goal-flash";
      li.setAttribute("data-version", String(envelope.version));
      var minute = document.createElement("span");
      minute.className = "minute";
      minute.textContent = entry.minute === null ? "" : entry.minute + "\u2032";
      var text = document.createElement("span");
      text.className = "text";
      text.textContent = entry.text;
      li.appendChild(minute);
      li.appendChild(text);
      list.insertBefore(li, list.firstChild);  // newest first
      var empty = list.parentNode.querySelector("[data-timeline-empty]");
      if (empty) {
        empty.hidden = true;
      }
    });
  }

  // A fragment that could not be fetched (a deploy, a 502) is asked for again, ever
  // less often but never given up on: the page already counts its event as applied, so
  // nothing else would bring the fragment up to date.
  var REFRESH_FIRST_MS = 150;
  var REFRESH_MAX_MS = 30000;

  function refreshDelay(attempt) {
    return attempt ? Math.min(REFRESH_MAX_MS, 1000 * Math.pow(2, attempt - 1)) : REFRESH_FIRST_MS;
  }

  // A fragment's HTML; an HTTP error rejects, as a network error does.
  function fetchHtml(url) {
    return fetch(url, { headers: { Accept: "text/html" } }).then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.text();
    });
  }

  var standingsRequest = 0;
  var standingsTimer = null;

  function refreshStandings(attempt) {
    clearTimeout(standingsTimer);
    // Several groups change at once: one request after the burst.
    standingsTimer = setTimeout(function () {
      var request = ++standingsRequest;
      each("[data-standings]", function (section) {
        var before = positions(section);
        fetchHtml(section.getAttribute("data-standings-url"))
          .then(function (html) {
            if (request !== standingsRequest) {
              return;  // a newer refresh is under way
            }
            section.innerHTML = html;
            markMoved(section, before);
            section.setAttribute("data-standings-refreshed", String(request));
          })
          .catch(function () {
            refreshStandings((attempt || 0) + 1);
          });
      });
    }, refreshDelay(attempt));
  }

  var bracketRequest = 0;
  var bracketTimer = null;

  // The bracket (knockout formats) is swapped in whole after a result or an advancement.
  function refreshBracket(attempt) {
    if (!document.querySelector("[data-bracket]")) {
      return;
    }
    clearTimeout(bracketTimer);
    bracketTimer = setTimeout(function () {
      var request = ++bracketRequest;
      each("[data-bracket]", function (section) {
        fetchHtml(section.getAttribute("data-bracket-url"))
          .then(function (html) {
            if (request === bracketRequest) {
              section.innerHTML = html;
              section.setAttribute("data-bracket-refreshed", String(request));
            }
          })
          .catch(function () {
            refreshBracket((attempt || 0) + 1);
          });
      });
    }, refreshDelay(attempt));
  }

  // Events this script does not model (which side is home, who went through, a kick-off
  // moved) are shown by swapping in the server's own rendering of each element of the
  // match that has a fragment (data-fragment-url: the scoreboard and timeline, a fixture
  // row), so an open page and a reload come from one template. A fragment rendered
  // before an event the page has already applied is fetched again, not swapped in.
  var latestVersion = {};
  var matchTimers = {};

  function refreshMatch(matchId, attempt) {
    clearTimeout(matchTimers[matchId]);
    matchTimers[matchId] = setTimeout(function () {
      each('[data-match-fragment="' + matchId + '"]', function (el) {
        fetchHtml(el.getAttribute("data-fragment-url"))
          .then(function (html) {
            var template = document.createElement("template");
            template.innerHTML = html.trim();
            var fresh = template.content.firstElementChild;
            var version = fresh ? parseInt(fresh.getAttribute("data-fragment-version"), 10) : NaN;
            if (isNaN(version) || version < (latestVersion[matchId] || 0)) {
              throw new Error("behind the page");
            }
            if (el.parentNode) {
              el.parentNode.replaceChild(fresh, el);
              tickClocks();
            }
          })
          .catch(function () {
            refreshMatch(matchId, (attempt || 0) + 1);
          });
      });
    }, refreshDelay(attempt));
  }

  function positions(section) {
    var found = {};
    Array.prototype.forEach.call(section.querySelectorAll("tr[data-team]"), function (row, i) {
      found[row.getAttribute("data-team")] = i;
    });
    return found;
  }

  function markMoved(section, before) {
    Array.prototype.forEach.call(section.querySelectorAll("tr[data-team]"), function (row, i) {
      if (before[row.getAttribute("data-team")] !== i) {
        row.classList.add("changed");
      }
    });
  }

  function apply(envelope) {
    var p = envelope.payload || {};
    var matchId = envelope.stream_type === "match" ? envelope.stream_id : p.match_id;
    if (envelope.stream_type === "match") {
      latestVersion[matchId] = Math.max(latestVersion[matchId] || 0, envelope.version);
    }
    switch (envelope.event_type) {
      case "MatchStarted":
        setScore(matchId, 0, 0);
        setClock(matchId, 0, p.started_at);
        setStatus(matchId, "live");
        break;
      case "MatchUpdated":
        setClock(matchId, p.minute, envelope.occurred_at);
        break;
      case "GoalScored":
        setScore(matchId, p.home_score, p.away_score);
        break;
      case "MatchResultCorrected":
        setScore(matchId, p.home_score, p.away_score);
        refreshMatch(matchId, 0);  // extra time and a shoot-out, added or taken off
        break;
      case "MatchCompleted":
        setScore(matchId, p.home_score, p.away_score);
        setStatus(matchId, "completed");
        if (p.extra_time || (p.penalties_home !== null && p.penalties_home !== undefined)) {
          refreshMatch(matchId, 0);  // "After extra time", the shoot-out
        }
        break;
      case "MatchAwarded":
        setScore(matchId, p.home_score, p.away_score);
        setStatus(matchId, "awarded");
        refreshMatch(matchId, 0);  // an award replaces extra time and a shoot-out
        break;
      case "MatchPostponed":
        setStatus(matchId, "postponed");
        refreshMatch(matchId, 0);  // abandoned while live: the score is void
        break;
      case "MatchCancelled":
        setStatus(matchId, "cancelled");
        refreshMatch(matchId, 0);  // cancelled while live: no score is shown
        break;
      case "MatchVenuesSwapped":
      case "MatchRescheduled":
      case "TeamAdvanced":  // a team in an undecided slot: its name, which side is home
        refreshMatch(matchId, 0);
        break;
      case "StandingsUpdated":
        refreshStandings(0);
        break;
      case "TeamUpdated":  // renamed: its name wherever the page shows it
        each('[data-team-name="' + p.team_id + '"]', function (el) {
          el.textContent = p.name;
        });
        refreshStandings(0);
        refreshBracket(0);
        break;
    }
    if (/^(MatchStarted|GoalScored|MatchCompleted|MatchResultCorrected|MatchAwarded|TeamAdvanced)$/
        .test(envelope.event_type)) {
      refreshBracket(0);
    }
    if (envelope.stream_type === "match") {
      addToTimeline(envelope);
    }
  }

  function start() {
    each("[data-live]", function (root) {
      connections.push(new Connection(root));
    });
    tickClocks();
    setInterval(tickClocks, 1000);
  }

  window.easychampLive = { connections: connections };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
