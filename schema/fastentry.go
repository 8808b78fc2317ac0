package schema

import "go.yaml.in/yaml/v3"

// bottle decodes a #Bottle into the raw form the Go rules check.
func (d *fdec) bottle(n *yaml.Node, b *rawBottle) {
	d.fields(n, func(k string, v *yaml.Node) bool {
		switch k {
		case "extends":
			s := d.name(v)
			b.Extends = &s
		case "agent_provider":
			b.AgentProvider = d.provider(v)
		case "env":
			b.Env = map[string]string{}
			d.fields(v, func(k string, v *yaml.Node) bool {
				b.Env[k] = d.str(v)
				return envNameRe.MatchString(k)
			})
		case "git_gate":
			b.GitGate = d.gitGate(v)
		case "egress":
			b.Egress = &Egress{}
			d.fields(v, func(k string, v *yaml.Node) bool {
				if k != "routes" {
					return false
				}
				b.Egress.Routes = make([]Route, 0, len(v.Content))
				d.list(v, func(_ int, e *yaml.Node) {
					b.Egress.Routes = append(b.Egress.Routes, d.route(e))
				})
				return true
			})
		case "supervise":
			b.Supervise = &rawSupervise{}
			if v != nil && v.Kind == yaml.MappingNode {
				b.Supervise.On = true
				d.fields(v, func(k string, v *yaml.Node) bool {
					if k != "hold_timeout" {
						return false
					}
					s := d.nonEmpty(v)
					b.Supervise.HoldTimeout = &s
					return true
				})
			} else {
				b.Supervise.On = d.boolean(v)
			}
		case "network":
			b.Network = &Network{}
			d.fields(v, func(k string, v *yaml.Node) bool {
				if k != "subnet" {
					return false
				}
				b.Network.Subnet = d.str(v)
				return true
			})
		case "resources":
			b.Resources = &Resources{}
			d.fields(v, func(k string, v *yaml.Node) bool {
				switch k {
				case "cpus":
					b.Resources.CPUs = d.intIn(v, 1, 64)
				case "memory_mib":
					b.Resources.MemoryMiB = d.intIn(v, 256, 262144)
				case "pids":
					b.Resources.Pids = d.intIn(v, 64, 65536)
				default:
					return false
				}
				return true
			})
		case "runtime":
			s := d.oneOf(v, "auto", "runc", "runsc")
			b.Runtime = &s
		case "backend":
			s := d.oneOf(v, "docker", "smolmachines")
			b.Backend = &s
		default:
			return false
		}
		return true
	})
}

// provider decodes an #AgentProvider.
func (d *fdec) provider(n *yaml.Node) *rawProvider {
	p := &rawProvider{}
	d.fields(n, func(k string, v *yaml.Node) bool {
		var s string
		switch k {
		case "template":
			s = d.oneOf(v, "claude", "codex")
			p.Template = &s
		case "auth_token":
			s = d.envName(v)
			p.AuthToken = &s
		case "dockerfile":
			s = d.nonEmpty(v)
			p.Dockerfile = &s
		case "image":
			s = d.nonEmpty(v)
			p.Image = &s
		default:
			return false
		}
		return true
	})
	return p
}

// gitGate decodes a #GitGate.
func (d *fdec) gitGate(n *yaml.Node) *rawGitGate {
	g := &rawGitGate{}
	d.fields(n, func(k string, v *yaml.Node) bool {
		switch k {
		case "user":
			g.User = d.gitUser(v)
		case "repos":
			g.Repos = map[string]Repo{}
			d.fields(v, func(k string, v *yaml.Node) bool {
				g.Repos[k] = d.repo(v)
				return nameRe.MatchString(k)
			})
		default:
			return false
		}
		return true
	})
	return g
}

// repo decodes a #Repo, with access defaulting to "read-write".
func (d *fdec) repo(n *yaml.Node) Repo {
	r := Repo{Access: "read-write"}
	var url, key bool
	d.fields(n, func(k string, v *yaml.Node) bool {
		switch k {
		case "url":
			r.URL, url = d.nonEmpty(v), true
		case "key":
			key = true
			var provider bool
			d.fields(v, func(k string, v *yaml.Node) bool {
				switch k {
				case "provider":
					r.Key.Provider, provider = d.oneOf(v, "static", "token"), true
				case "path":
					r.Key.Path = d.nonEmpty(v)
				case "token_ref":
					r.Key.TokenRef = d.envName(v)
				default:
					return false
				}
				return true
			})
			if !provider {
				d.fail()
			}
		case "host_key":
			r.HostKey = d.nonEmpty(v)
		case "access":
			r.Access = d.oneOf(v, "read", "read-write")
		default:
			return false
		}
		return true
	})
	if !url || !key {
		d.fail()
	}
	return r
}

// route decodes a #Route.
func (d *fdec) route(n *yaml.Node) Route {
	var r Route
	var host bool
	d.fields(n, func(k string, v *yaml.Node) bool {
		switch k {
		case "host":
			r.Host, host = d.str(v), true
		case "ports":
			r.Ports = make([]int, 0, len(v.Content))
			d.list(v, func(_ int, e *yaml.Node) {
				r.Ports = append(r.Ports, d.intIn(e, 1, 65535))
			})
		case "auth":
			r.Auth = &RouteAuth{}
			var scheme, ref bool
			d.fields(v, func(k string, v *yaml.Node) bool {
				switch k {
				case "scheme":
					r.Auth.Scheme, scheme = d.oneOf(v, "Bearer", "token", "Basic"), true
				case "token_ref":
					r.Auth.TokenRef, ref = d.envName(v), true
				default:
					return false
				}
				return true
			})
			if !scheme || !ref {
				d.fail()
			}
		case "matches":
			r.Matches = make([]Match, 0, len(v.Content))
			d.list(v, func(_ int, e *yaml.Node) {
				r.Matches = append(r.Matches, d.match(e))
			})
		case "websocket":
			r.Websocket = d.boolean(v)
		case "dlp":
			d.fields(v, func(k string, v *yaml.Node) bool {
				if k != "outbound_on_match" {
					return false
				}
				r.DLP.OutboundOnMatch = d.oneOf(v, "supervise", "redact", "block")
				return true
			})
		default:
			return false
		}
		return true
	})
	if !host {
		d.fail()
	}
	return r
}

// match decodes a #Match.
func (d *fdec) match(n *yaml.Node) Match {
	var m Match
	d.fields(n, func(k string, v *yaml.Node) bool {
		switch k {
		case "paths":
			m.Paths = make([]PathMatch, 0, len(v.Content))
			d.list(v, func(_ int, e *yaml.Node) {
				var p PathMatch
				var typ, val bool
				d.fields(e, func(k string, v *yaml.Node) bool {
					switch k {
					case "type":
						p.Type, typ = d.oneOf(v, "prefix", "exact"), true
					case "value":
						p.Value, val = d.str(v), true
						if len(p.Value) == 0 || p.Value[0] != '/' {
							d.fail()
						}
					default:
						return false
					}
					return true
				})
				if !typ || !val {
					d.fail()
				}
				m.Paths = append(m.Paths, p)
			})
		case "methods":
			m.Methods = make([]string, 0, len(v.Content))
			d.list(v, func(_ int, e *yaml.Node) {
				m.Methods = append(m.Methods, d.oneOf(e, "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
			})
		default:
			return false
		}
		return true
	})
	return m
}

// agent decodes an #Agent.
func (d *fdec) agent(n *yaml.Node, a *rawAgent) {
	d.fields(n, func(k string, v *yaml.Node) bool {
		switch k {
		case "bottle":
			a.Bottle = d.name(v)
		case "skills":
			a.Skills = d.strList(v, true)
		case "prompt":
			s := d.str(v)
			a.Prompt = &s
		case "prompt_file":
			s := d.nonEmpty(v)
			a.PromptFile = &s
		case "command":
			a.Command = d.strList(v, false)
			if len(a.Command) == 0 {
				d.fail()
			}
		case "git_gate":
			a.GitGate = &struct {
				User *GitUser `json:"user"`
			}{}
			d.fields(v, func(k string, v *yaml.Node) bool {
				if k != "user" {
					return false
				}
				a.GitGate.User = d.gitUser(v)
				return true
			})
		default:
			return false
		}
		return true
	})
	if a.Bottle == "" {
		d.fail()
	}
}
