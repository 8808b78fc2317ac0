"""mitmdump addon for bench/proxy: an egress allowlist in the shape of
bot-bottle's proxy. A flow (a CONNECT or a request inside it) to a host
not in --set allowlist=host1,host2 is killed; everything else passes
untouched."""

from mitmproxy import ctx


class Allowlist:
    def __init__(self):
        self.hosts = frozenset()

    def load(self, loader):
        loader.add_option("allowlist", str, "", "comma-separated hosts flows may reach")

    def configure(self, updated):
        if "allowlist" in updated:
            self.hosts = frozenset(
                h.strip().lower().rstrip(".") for h in ctx.options.allowlist.split(",") if h.strip()
            )

    def allowed(self, host):
        return host.lower().rstrip(".") in self.hosts

    def http_connect(self, flow):
        if not self.allowed(flow.request.host):
            flow.kill()

    def request(self, flow):
        if not self.allowed(flow.request.pretty_host):
            flow.kill()


addons = [Allowlist()]
