package scenarios

import "github.com/tcpsim/tcpsim/sim"

// RunLostFinalACKWithoutLoss runs lost-final-ack's applications on a link
// with no rule, then applies lost-final-ack's checks: every one must fail.
func RunLostFinalACKWithoutLoss(cfg Config) (*Result, error) {
	s := lostFinalACK
	s.run = func(e *env) error {
		if err := e.link(); err != nil {
			return err
		}
		if _, err := e.echoServer(""); err != nil {
			return err
		}
		c, err := e.client.Connect(serverAP, sim.SocketOptions{})
		if err != nil {
			return err
		}
		e.w.At(closeAt, func() { _ = c.Close() })
		if err := e.w.Run(); err != nil {
			return err
		}
		e.lostFinalACKChecks(e.facts())
		return nil
	}
	return s.Run(cfg)
}
