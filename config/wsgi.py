import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from config.cache_alignment import aligned

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()
if settings.NGINX_CACHE_ALIGN:
    # Behind deploy/nginx.conf's micro-cache: cached bodies on a page boundary (see the module).
    application = aligned(application)
