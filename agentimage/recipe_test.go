package agentimage

import (
	"regexp"
	"strings"
	"testing"
)

// TestRecipeNamesItsImage: the tag is the recipe digest, which moves
// with every build arg, and each template's recipe installs its own CLI.
func TestRecipeNamesItsImage(t *testing.T) {
	seen := map[string]string{}
	for _, tpl := range Templates() {
		for _, base := range []string{"", "local/node:22"} {
			r, ref, err := For(tpl, base)
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(`^bottleplan/agent-`+tpl+`:[0-9a-f]{16}$`).MatchString(ref) || !strings.HasPrefix(r.Digest, "sha256:"+ref[strings.Index(ref, ":")+1:]) {
				t.Errorf("%s FROM %q: image %q, digest %s", tpl, base, ref, r.Digest)
			}
			if prev, dup := seen[ref]; dup {
				t.Errorf("%s FROM %q has the image of %s", tpl, base, prev)
			}
			seen[ref] = tpl + " FROM " + base
			if d, _ := Digest(r); d != r.Digest {
				t.Errorf("Digest(%s) = %s, recipe says %s", tpl, d, r.Digest)
			}
			r.BuildArgs[ArgCLIVersion] = "0.0.0"
			if d, _ := Digest(r); d == r.Digest {
				t.Errorf("%s: the CLI version does not move the digest", tpl)
			}
		}
	}
	if _, _, err := For("nosuch", ""); err == nil {
		t.Error("a template without a recipe got one")
	}
}

// TestDockerfileTakesEveryArg: the Dockerfile declares exactly the build
// args For passes, so none is silently ignored by the builder.
func TestDockerfileTakesEveryArg(t *testing.T) {
	r, _, _ := For("claude", "")
	for k := range r.BuildArgs {
		if !strings.Contains(Dockerfile, "\nARG "+k+"\n") {
			t.Errorf("agent.Dockerfile does not declare ARG %s", k)
		}
	}
	if n := strings.Count(Dockerfile, "\nARG "); n != len(r.BuildArgs) {
		t.Errorf("agent.Dockerfile declares %d args, For passes %d", n, len(r.BuildArgs))
	}
}
