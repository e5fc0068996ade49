"""Sign-in lockout (django-axes): after repeated failures, an account, and an address, are refused
for a while, on /accounts/login/ and /admin/login/ alike (settings: SIGN_IN_FAILURE_LIMIT,
SIGN_IN_LOCKOUT_MINUTES). Failures are counted in the database, so a lockout holds across web
processes and survives Redis."""

from axes.backends import AxesStandaloneBackend


class SignInLockout(AxesStandaloneBackend):
    """Axes' backend, for every sign-in that comes with a request. Code that authenticates
    without one (a management command, the test client's login()) is not a visitor to lock
    out, so it is let through to the next backend instead of failing."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
