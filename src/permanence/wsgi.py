import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "permanence.settings")
application = get_wsgi_application()

from permanence.warmup import warm_up  # noqa: E402

warm_up()  # templates compiled, catalogues loaded, then the heap frozen out of the collector's reach
