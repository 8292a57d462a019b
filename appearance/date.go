package appearance

import (
	"strconv"
	"sync"
	"time"
)

// thaiMonths are the full Thai month names, January first, as official
// letters write them.
var thaiMonths = [12]string{
	"มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
	"กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม",
}

// buddhistEraOffset turns a Gregorian year into the Buddhist-era year
// Thailand uses; since 1941 both years begin on 1 January.
const buddhistEraOffset = 543

// Bangkok returns the Asia/Bangkok time zone. Without time zone data on
// the system it returns a fixed UTC+07:00 zone, which is the same thing:
// Thailand has kept +07:00 without daylight saving since 1920.
func Bangkok() *time.Location { return bangkok() }

// bangkok loads the zone once: time.LoadLocation reads and parses the
// zone file on every call, and every visible signature dates itself.
var bangkok = sync.OnceValue(func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Bangkok"); err == nil {
		return loc
	}
	return time.FixedZone("+07", 7*60*60)
})

// ThaiDate formats t in loc as a Thai Buddhist-era date, for example
// "22 พฤศจิกายน 2569". A nil loc means Bangkok.
func ThaiDate(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = Bangkok()
	}
	t = t.In(loc)
	return strconv.Itoa(t.Day()) + " " + thaiMonths[t.Month()-1] + " " + strconv.Itoa(t.Year()+buddhistEraOffset)
}
