package trace

// MsTimer exposes msTimer to the tests.
var MsTimer = msTimer
