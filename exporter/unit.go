package exporter

// Duration units, as instruments state them (UCUM) and as Rule.Unit
// names them.
const (
	UnitSeconds      = "s"
	UnitMilliseconds = "ms"
	UnitMicroseconds = "us"
	UnitNanoseconds  = "ns"
)

// UnitAsRecorded, as Rule.Unit, forwards values in the instrument's own
// unit, unconverted.
const UnitAsRecorded = "as-recorded"

// durationScale returns how many nanoseconds one of unit is, and false
// when unit is not a duration unit.
func durationScale(unit string) (float64, bool) {
	switch unit {
	case "s":
		return 1e9, true
	case "ms":
		return 1e6, true
	case "us", "µs", "μs":
		return 1e3, true
	case "ns":
		return 1, true
	case "min":
		return 60e9, true
	case "h":
		return 3600e9, true
	}
	return 0, false
}

// scaleFor returns the factor that converts values of an instrument with
// the given unit to the rule's unit: 1 unless both are duration units.
func (r *rule) scaleFor(instrumentUnit string) float64 {
	if r.Unit == UnitAsRecorded {
		return 1
	}
	from, ok := durationScale(instrumentUnit)
	if !ok {
		return 1
	}
	to := r.Unit
	if to == "" {
		to = UnitMilliseconds
	}
	ns, _ := durationScale(to)
	return from / ns
}

func validUnit(u string) bool {
	switch u {
	case "", UnitAsRecorded, UnitSeconds, UnitMilliseconds, UnitMicroseconds, UnitNanoseconds:
		return true
	}
	return false
}
