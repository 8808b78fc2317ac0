package plan

import (
	"bytes"
	"strings"
	"testing"
)

func TestRenderGolden(t *testing.T) {
	tests := map[string]struct {
		plan  func() *Plan
		color bool
	}{
		"example":       {plan: examplePlan},
		"example-color": {plan: examplePlan, color: true},
		"minimal":       {plan: minimalPlan},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := tc.plan()
			if _, err := Encode(p); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := Render(&buf, p, RenderOptions{Color: tc.color}); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name+".txt", buf.Bytes())
		})
	}
}

// TestRenderNeverShowsValues: literal env values, proxy URLs and prompt
// texts stay out of the review; only variable names appear.
func TestRenderNeverShowsValues(t *testing.T) {
	p := examplePlan()
	in := &p.Instances[0]
	in.GuestEnv["API_SECRET"] = "canary-literal-value"
	var buf bytes.Buffer
	if err := Render(&buf, p, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, v := range []string{"canary-literal-value", "http://10.231.40.2:3128", "Paste a Jira token"} {
		if strings.Contains(out, v) {
			t.Errorf("review shows the value %q:\n%s", v, out)
		}
	}
	for _, name := range []string{"API_SECRET", "GH_TOKEN <- $HOST_GH_PAT", "JIRA_TOKEN (prompted)", "GIT_AUTHOR_NAME"} {
		if !strings.Contains(out, name) {
			t.Errorf("review lacks %q:\n%s", name, out)
		}
	}
}

func TestRenderNoColorWithoutOption(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, examplePlan(), RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("\x1b[")) {
		t.Errorf("review without Color contains ANSI escapes")
	}
}

func TestRenderRoutes(t *testing.T) {
	tests := map[string]struct {
		route Route
		want  string
	}{
		"default port": {
			route: Route{Host: "pypi.org", Ports: []int{443}, DLP: "block", Intercept: true},
			want:  "pypi.org [dlp:block]\n",
		},
		"other ports": {
			route: Route{Host: "ci.example.com", Ports: []int{80, 8443}, DLP: "block", Intercept: true},
			want:  "ci.example.com [ports:80,8443] [dlp:block]\n",
		},
		"auth and matches": {
			route: Route{
				Host: "api.github.com", Ports: []int{443}, DLP: "redact", Intercept: true,
				Auth: &RouteAuth{Scheme: "token", TokenRef: "GH"},
				Matches: []Match{
					{Methods: []string{"GET"}},
					{Paths: []PathMatch{{Type: "exact", Value: "/user"}, {Type: "prefix", Value: "/repos/"}}},
				},
			},
			want: "api.github.com [auth:token] [dlp:redact]\n" +
				"               match GET any path\n" +
				"               match any method exact:/user prefix:/repos/\n",
		},
		// A plan whose route is not intercepted (written before every
		// route was) must not claim DLP the bundle cannot apply.
		"blind tunnel": {
			route: Route{Host: "pypi.org", Ports: []int{443}, DLP: "block"},
			want:  "pypi.org [blind tunnel: dlp:block not enforced]\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := minimalPlan()
			p.Instances[0].Bundle.Proxy.Routes = []Route{tc.route}
			var buf bytes.Buffer
			if err := Render(&buf, p, RenderOptions{}); err != nil {
				t.Fatal(err)
			}
			if want := "  egress     " + tc.want; !strings.Contains(buf.String(), want) {
				t.Errorf("review lacks\n%s\ngot:\n%s", want, buf.String())
			}
		})
	}
}
