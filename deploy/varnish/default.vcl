vcl 4.1;

# The site's Varnish configuration: where the app server listens, who may purge,
# and newsroom.vcl (in the same directory, e.g. /etc/varnish/) for the rest.
# docs/deployment.md, "Shared HTTP cache", explains the setup.

backend default {
    .host = "127.0.0.1";
    .port = "8000";
}

# The app servers, which send BAN after every change readers see.
acl purgers {
    "127.0.0.1";
    "::1";
}

include "./newsroom.vcl";
