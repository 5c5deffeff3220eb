vcl 4.1;

# Newsroom behind Varnish: public pages cached for every reader alike, anything
# personal passed to the app, and the cache emptied when the app says something
# readers see has changed. Django decides what may be shared (Cache-Control
# public or s-maxage, no Set-Cookie); this file only refuses to share the rest.
#
# Include it from the file that names the app server and who may purge, as
# deploy/varnish/default.vcl does:
#
#     backend default { .host = "127.0.0.1"; .port = "8000"; }
#     acl purgers { "127.0.0.1"; "::1"; }
#     include "./newsroom.vcl";
#
# Whatever this file does not decide, Varnish's built-in VCL does (vcl(7)).

sub vcl_recv {
    # The app sends BAN to every URL in FRONTEND_CACHE_URLS after a change
    # readers see commits (publicpages/purge.py). Like the app's own cache
    # generation, it drops every stored page; static files keep their place, as
    # their names change with their content.
    if (req.method == "BAN") {
        if (client.ip !~ purgers) {
            return (synth(405, "Not allowed"));
        }
        ban("obj.http.X-Url !~ ^/static/");
        return (synth(200, "Banned"));
    }
    # One address at a time, for an operator: curl -X PURGE http://cache/path
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(405, "Not allowed"));
        }
        return (purge);
    }
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    if (req.url ~ "^/admin/" || req.http.Authorization) {
        return (pass);
    }
    # The cookies that make a page someone's own: a signed-in session, flash
    # messages, the reader's comments awaiting moderation and their remembered
    # name and email. Such a request is answered by the app, never stored.
    if (req.http.Cookie ~ "(^|;\s*)(sessionid|messages|comments_pending|comment_author)=") {
        return (pass);
    }
    # Public pages read no other cookie (a CSRF token, analytics): without them
    # every reader shares one stored copy.
    unset req.http.Cookie;
    return (hash);
}

sub vcl_hash {
    # An http:// request is answered with a redirect to https://, not the page.
    hash_data(req.http.X-Forwarded-Proto);
}

sub vcl_backend_response {
    # Bans match stored objects on this, so the ban lurker can apply them in the
    # background instead of at each lookup.
    set beresp.http.X-Url = bereq.url;
    # Only what the app marks shareable is stored: a response without
    # Cache-Control public or s-maxage is fetched anew for every reader.
    # (The built-in VCL then refuses Set-Cookie, private, no-cache and no-store.)
    # stale-while-revalidate becomes grace: an expired page is served while one
    # fetch renews it.
    if (!bereq.uncacheable && beresp.http.Cache-Control !~ "(?i)\b(public|s-maxage)\b") {
        call vcl_beresp_hitmiss;
    }
}

sub vcl_hit {
    set req.http.X-Cache = "HIT";
}

sub vcl_miss {
    set req.http.X-Cache = "MISS";
}

sub vcl_pass {
    set req.http.X-Cache = "PASS";
}

sub vcl_deliver {
    unset resp.http.X-Url;
    set resp.http.X-Cache = req.http.X-Cache;
}
