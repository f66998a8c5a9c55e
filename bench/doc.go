// Package bench holds tcpsim's benchmarks (go test -bench . ./bench) and
// nothing else: the speed and memory figures in docs/performance.md come
// from here, never from timed unit tests.
//
//   - BenchmarkLostFinalACK: one whole lost-final-ack notebook run, setup,
//     expectations and rendering included.
//   - BenchmarkLifecycles: open, 100-byte request, 100-byte response,
//     client closes first, over 1 ms each way with TIME-WAIT expiring in
//     virtual time; reports lifecycles per wall second.
//   - BenchmarkTimeWaitMemory: heap bytes per endpoint sitting in TIME-WAIT.
//   - BenchmarkFreeRunning: the same lifecycle between two gVisor stacks on
//     real time with goroutine-driven links, no simulator: the baseline.
//   - BenchmarkIdleEstablished, BenchmarkConnectExhausted, BenchmarkTWReuse:
//     what an event costs beside idle ESTABLISHED connections, a port range
//     in TIME-WAIT, and TIME-WAITs that tcp_tw_reuse may take over.
package bench
