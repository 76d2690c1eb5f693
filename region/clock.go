package region

import "time"

// Clock tells the time. Inject one to test time-dependent logic without
// sleeping; the zero value of the package's types uses [SystemClock].
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }
