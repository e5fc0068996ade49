from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm, UsernameField
from django.db import transaction
from django.utils.text import slugify

from status.models import Membership, Page, Role, Tenant, slug_validator, validate_slug

User = get_user_model()


class SignupForm(UserCreationForm):
    """A new user, with the tenant they own and its first status page."""

    email = forms.EmailField()
    company = forms.CharField(max_length=100, help_text="Shown at the top of your status page.")
    page_slug = forms.CharField(
        max_length=50,
        label="Page address",
        validators=[slug_validator, validate_slug],
        help_text="Lowercase letters, digits and hyphens; your page is served at /p/your-address/.",
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ["email"]

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(username__iexact=email).exists():
            raise forms.ValidationError("An account with this email exists; sign in instead.")
        return email

    def clean_page_slug(self):
        slug = self.cleaned_data["page_slug"].strip().lower()
        if Page.objects.filter(slug=slug).exists():
            raise forms.ValidationError("This address is taken; choose another.")
        return slug

    @transaction.atomic
    def save(self, commit=True):
        user = super().save(commit=False)
        user.username = user.email = self.cleaned_data["email"]
        user.save()
        company = self.cleaned_data["company"]
        slug = self.cleaned_data["page_slug"]
        tenant = Tenant.objects.create(name=company, slug=unique_tenant_slug(slug or company))
        Membership.objects.create(user=user, tenant=tenant, role=Role.OWNER)
        self.page = Page.objects.create(tenant=tenant, name=company, slug=slug)
        return user


def unique_tenant_slug(text):
    base = slugify(text)[:40] or "tenant"
    slug, n = base, 1
    while Tenant.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


class SignInForm(AuthenticationForm):
    """Django's sign-in form; people sign up with their email, which is their username."""

    username = UsernameField(
        label="Email", widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    def clean(self):
        if self.cleaned_data.get("username"):
            username = self.cleaned_data["username"].strip()
            if "@" in username:
                self.cleaned_data["username"] = username.lower()
        return super().clean()
