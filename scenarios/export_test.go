package scenarios

// RunLostFinalACKWithoutLoss runs lost-final-ack's exchange on a link with
// no rule, then applies lost-final-ack's checks: every one must fail.
func RunLostFinalACKWithoutLoss(cfg Config) (*Result, error) {
	s := lostFinalACK
	s.run = func(e *env) error {
		if _, err := e.clientClosesFirst("", ""); err != nil {
			return err
		}
		e.lostFinalACKChecks(e.facts())
		return nil
	}
	return s.Run(cfg)
}
