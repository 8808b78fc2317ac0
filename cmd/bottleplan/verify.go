package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/executor/smolvm"
	"github.com/bottleplan/bottleplan/plan"
)

func init() {
	register(&command{
		name:  "verify",
		usage: "verify plan.json [--instance S] [--json]",
		short: "prove the live sandboxes hold: probes from each agent's network",
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			instance := fs.String("instance", "", "verify only this instance (its slug)")
			asJSON := fs.Bool("json", false, "print the report as JSON")
			bundleBin := fs.String("bundle-binary", "", "static bottleplan-bundle binary, the probe copied into smolmachines guests (default: bottleplan-bundle beside this executable)")
			return func(e *env, args []string) error { return runVerify(e, args, *instance, *asJSON, *bundleBin) }
		},
		example: "bottleplan verify plan.json\nbottleplan verify plan.json --instance implementer --json",
	})
}

// verifyReport is verify's JSON output.
type verifyReport struct {
	Project   string           `json:"project"`
	Pass      bool             `json:"pass"`
	Instances []verifyInstance `json:"instances"`
}

// verifyInstance is one instance's part of the report: its results, or
// why it could not be verified (Error) or was left out (Skipped).
type verifyInstance struct {
	Slug    string                  `json:"slug"`
	Error   string                  `json:"error,omitempty"`
	Skipped string                  `json:"skipped,omitempty"`
	Results []executor.VerifyResult `json:"results"`
}

// runVerify runs the executor's checks against every docker and
// smolmachines instance of the plan (or the one --instance names) and
// prints one line per check. It changes nothing but a short-lived probe
// container per docker instance; a smolmachines instance is probed from
// inside its machine with `machine exec`, the probe (the bundle binary)
// copied in afresh, and its refusals read back from smolvm's egress
// events (smolvm.Backend.VerifyInstance). Exit 0 only when every check of
// every verified instance passed; an instance that could not be verified
// (not applied, Engine error) fails the run; instances on other backends
// are reported as skipped and do not, unless --instance names one, which
// is an error.
func runVerify(e *env, args []string, only string, asJSON bool, bundleBin string) error {
	p, err := readPlanArg(args)
	if err != nil {
		return err
	}
	todo, err := selectInstances(p, only)
	if err != nil {
		return err
	}
	if len(todo) == 0 {
		return noInstance(p, only)
	}
	if only != "" && todo[0].Backend != plan.BackendDocker && todo[0].Backend != plan.BackendSmolmachines {
		return fmt.Errorf("instance %q uses backend %q; verify probes only %q and %q instances so far", only, todo[0].Backend, plan.BackendDocker, plan.BackendSmolmachines)
	}
	machines, err := verifyMachines(e, todo, bundleBin)
	if err != nil {
		return err
	}
	c, err := docker.Connect()
	if err != nil {
		return err
	}
	defer c.Close()
	b := docker.New(c, docker.Options{})

	rep := verifyReport{Project: p.Project, Pass: true}
	for _, in := range todo {
		vi := verifyInstance{Slug: in.Slug}
		var rs []executor.VerifyResult
		var err error
		switch in.Backend {
		case plan.BackendDocker:
			rs, err = b.Verify(e.ctx, p, in.Slug)
		case plan.BackendSmolmachines:
			rs, err = machines.VerifyInstance(e.ctx, p.Project, *in)
		default:
			vi.Skipped = fmt.Sprintf("backend %q cannot be verified yet; only %q and %q instances are probed", in.Backend, plan.BackendDocker, plan.BackendSmolmachines)
			rep.Instances = append(rep.Instances, vi)
			continue
		}
		if err != nil {
			vi.Error = err.Error()
			rep.Pass = false
		}
		for _, r := range rs {
			rep.Pass = rep.Pass && r.Pass
		}
		vi.Results = rs
		rep.Instances = append(rep.Instances, vi)
	}
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printVerify(e.stdout, p, rep)
	}
	if !rep.Pass {
		return silent(exitError)
	}
	return nil
}

// printVerify writes one block per instance, one line per check, then a
// summary line naming what failed.
func printVerify(w io.Writer, p *plan.Plan, rep verifyReport) {
	total, passed := 0, 0
	var failed []string
	for i, vi := range rep.Instances {
		if i > 0 {
			fmt.Fprintln(w)
		}
		in := instanceBySlug(p, vi.Slug)
		switch {
		case vi.Skipped != "":
			fmt.Fprintf(w, "Instance %q: skipped: %s\n", vi.Slug, vi.Skipped)
			continue
		case vi.Error != "":
			fmt.Fprintf(w, "Instance %q: cannot verify: %s\n", vi.Slug, vi.Error)
			failed = append(failed, vi.Slug+" (not verified)")
			continue
		}
		if in.Backend == plan.BackendSmolmachines {
			fmt.Fprintf(w, "Instance %q (probes from inside machine %s):\n", vi.Slug, in.Agent.MachineName)
		} else {
			fmt.Fprintf(w, "Instance %q (probes from %s on %s):\n", vi.Slug, in.Network.ProbeIP, in.Network.InternalName)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, r := range vi.Results {
			mark := "PASS"
			total++
			if r.Pass {
				passed++
			} else {
				mark = "FAIL"
				failed = append(failed, vi.Slug+" "+r.Name)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\twant %s\tgot %s\n", mark, r.Name, r.Target, r.Expected, r.Got)
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	if rep.Pass {
		fmt.Fprintf(w, "Verify: all %d checks passed in project %q.\n", total, p.Project)
		return
	}
	fmt.Fprintf(w, "Verify FAILED: %d of %d checks passed in project %q; failing: %s.\n", passed, total, p.Project, strings.Join(failed, ", "))
}

// verifyMachines opens smolvm when todo has smolmachines instances (nil
// otherwise), with the bundle binary as the probe copied into each guest.
func verifyMachines(e *env, todo []*plan.Instance, flag string) (*smolvm.Backend, error) {
	if !slices.ContainsFunc(todo, func(in *plan.Instance) bool { return in.Backend == plan.BackendSmolmachines }) {
		return nil, nil
	}
	bin, err := bundleBinary(flag, os.Executable)
	if err != nil {
		return nil, fmt.Errorf("verify smolmachines instances: %w", err)
	}
	cache, err := smolvmCacheDir(e)
	if err != nil {
		return nil, err
	}
	return smolvm.Open(e.ctx, &smolvm.Runner{Path: e.getenv("BOTTLEPLAN_SMOLVM"), CacheDir: cache, ProbeBinary: bin})
}

func instanceBySlug(p *plan.Plan, slug string) *plan.Instance {
	for i := range p.Instances {
		if p.Instances[i].Slug == slug {
			return &p.Instances[i]
		}
	}
	return nil
}
