// Command composegen writes the docker-compose file equivalent to what
// `bottleplan apply` made, for the apply benchmark (bench/apply.sh): it
// reads `docker inspect` of the containers and `docker network inspect`
// of the networks of one project and prints a compose file (JSON, which
// is YAML) with the same networks (internal ones with their pinned
// subnet and gateway), the same containers (image, entrypoint, command,
// user, env, hostname, DNS, capabilities, security options, restart
// policy, pinned addresses) and, instead of the files apply copies in,
// read-only bind mounts of a copy of them under files/<container>/.
//
//	composegen -label io.bottleplan.bench=run1 containers.json networks.json > compose.yml
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

type inspectContainer struct {
	Name   string
	Config struct {
		Image      string
		Entrypoint []string
		Cmd        []string
		Env        []string
		User       string
		Hostname   string
	}
	HostConfig struct {
		CapDrop       []string
		SecurityOpt   []string
		DNS           []string `json:"Dns"`
		RestartPolicy struct{ Name string }
	}
	NetworkSettings struct {
		Networks map[string]struct {
			IPAMConfig *struct{ IPv4Address string }
		}
	}
}

type inspectNetwork struct {
	Name     string
	Internal bool
	Options  map[string]string
	IPAM     struct {
		Config []struct{ Subnet, Gateway string }
	}
}

func main() {
	label := flag.String("label", "", "`key=value` label put on every service and network")
	flag.Parse()
	if flag.NArg() != 2 || !strings.Contains(*label, "=") {
		fmt.Fprintln(os.Stderr, "usage: composegen -label k=v containers.json networks.json")
		os.Exit(2)
	}
	var cs []inspectContainer
	var ns []inspectNetwork
	read(flag.Arg(0), &cs)
	read(flag.Arg(1), &ns)
	lk, lv, _ := strings.Cut(*label, "=")
	labels := map[string]string{lk: lv}

	networks := map[string]any{}
	for _, n := range ns {
		nw := map[string]any{"name": n.Name, "internal": n.Internal, "labels": labels}
		if len(n.Options) > 0 {
			nw["driver_opts"] = n.Options
		}
		if n.Internal { // apply pins the internal subnet; Docker picks the egress one
			var cfg []map[string]string
			for _, c := range n.IPAM.Config {
				cfg = append(cfg, map[string]string{"subnet": c.Subnet, "gateway": c.Gateway})
			}
			nw["ipam"] = map[string]any{"config": cfg}
		}
		networks[n.Name] = nw
	}
	services := map[string]any{}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	for _, c := range cs {
		name := strings.TrimPrefix(c.Name, "/")
		var env []string
		for _, e := range c.Config.Env {
			if !strings.HasPrefix(e, "PATH=") { // the image's, not apply's
				env = append(env, e)
			}
		}
		svc := map[string]any{
			"image": c.Config.Image, "container_name": name, "hostname": c.Config.Hostname,
			"environment": env, "labels": labels,
			"volumes": []string{"./files/" + name + "/etc/bottleplan:/etc/bottleplan:ro"},
		}
		if c.Config.Entrypoint != nil {
			svc["entrypoint"] = c.Config.Entrypoint
		}
		if c.Config.Cmd != nil {
			svc["command"] = c.Config.Cmd
		}
		if c.Config.User != "" {
			svc["user"] = c.Config.User
		}
		if len(c.HostConfig.CapDrop) > 0 {
			svc["cap_drop"] = c.HostConfig.CapDrop
		}
		if len(c.HostConfig.SecurityOpt) > 0 {
			svc["security_opt"] = c.HostConfig.SecurityOpt
		}
		if len(c.HostConfig.DNS) > 0 {
			svc["dns"] = c.HostConfig.DNS
		}
		if r := c.HostConfig.RestartPolicy.Name; r != "" && r != "no" {
			svc["restart"] = r
		}
		nets := map[string]any{}
		for n, s := range c.NetworkSettings.Networks {
			ep := map[string]any{}
			if s.IPAMConfig != nil && s.IPAMConfig.IPv4Address != "" {
				ep["ipv4_address"] = s.IPAMConfig.IPv4Address
			}
			nets[n] = ep
		}
		svc["networks"] = nets
		services[name] = svc
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"version": "2.4", "services": services, "networks": networks}); err != nil {
		fmt.Fprintln(os.Stderr, "composegen:", err)
		os.Exit(1)
	}
}

func read(path string, v any) {
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "composegen:", err)
		os.Exit(1)
	}
}
