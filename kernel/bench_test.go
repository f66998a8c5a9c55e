package kernel

import "testing"

// BenchmarkTCPSockets is one sock_diag listing of a namespace with no
// sockets: what every observation of a kernel host costs at least.
func BenchmarkTCPSockets(b *testing.B) {
	n := needKernel(b)
	for b.Loop() {
		if _, err := n.TCPSockets(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDo is entering a namespace and leaving it (socket creation and
// sysctls pay it).
func BenchmarkDo(b *testing.B) {
	n := needKernel(b)
	for b.Loop() {
		if err := n.Do(func() error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTCPConnections is a listing without the listeners.
func BenchmarkTCPConnections(b *testing.B) {
	n := needKernel(b)
	for b.Loop() {
		if _, err := n.TCPConnections(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewNetns is creating a host's namespace and letting it go.
func BenchmarkNewNetns(b *testing.B) {
	needKernel(b)
	for b.Loop() {
		n, err := NewNetns()
		if err != nil {
			b.Fatal(err)
		}
		n.Close()
	}
}
