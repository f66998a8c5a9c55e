package sim

import "runtime/debug"

// gvisorModule is the module path of the stack every host runs.
const gvisorModule = "gvisor.dev/gvisor"

// StackVersion names the gVisor netstack the hosts run, as
// "gvisor.dev/gvisor@VERSION" from the binary's build information.
func StackVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == gvisorModule {
				if d.Replace != nil {
					d = d.Replace
				}
				return d.Path + "@" + d.Version
			}
		}
	}
	return gvisorModule + "@unknown"
}
