"""The sign-up page: a form that runs the same command as ``POST /api/v1/auth/register/``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from sagas import registration
from sagas.api.views import me_data


class SignUpForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(max_length=254)  # auth_user.email's length
    password = forms.CharField(widget=forms.PasswordInput, max_length=128, strip=False)


def signup(request: HttpRequest) -> HttpResponse:
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = registration.player_register(**form.cleaned_data)
        except registration.RegistrationInvalid as exc:
            for field, messages in exc.errors.items():
                for message in messages:
                    form.add_error(field, message)
        else:
            login(request, user, backend="sagas.backends.NormalisedUsernameBackend")
            return redirect("signup-done")
    return render(request, "sagas/signup.html", {"form": form})


@login_required(login_url="/signup/")
def signup_done(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"me": me_data(request.user)}
    return render(request, "sagas/signup_done.html", context)
