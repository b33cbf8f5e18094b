package generate

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"time"
)

// visitor is one browser: what it keeps in localStorage (its anonymous
// id, a customer id once it signed up) and what does not change between
// its visits (browser, language, screen, network).
type visitor struct {
	id       [16]byte
	agent    uint8
	locale   uint8
	screen   uint8
	net      [3]byte // the /24 the collector keeps of the address
	customer uint32  // 0 until the visitor signs up
	// free is when the visitor's last session expired (its last event
	// plus the beacon's 30 minutes): a visit before then would continue
	// that session, not start one.
	free int64
}

// sessionGap is the beacon's inactivity rule (sdk-js SESSION_MS).
const sessionGap = 30 * time.Minute

// returningShare is the share of visits by someone who came before.
const returningShare = 0.35

// poolSize bounds the visitors remembered for coming back; older ones
// have cleared their storage, as real ones do.
const poolSize = 1 << 20

// visitors remembers recent visitors so they can return.
type visitors struct {
	pool []visitor
	next int // where the next new visitor goes once the pool is full
}

// forVisit returns who makes a visit starting at ms (epoch milliseconds):
// a returning visitor, more likely a recent one, or a new one.
func (vs *visitors) forVisit(r *rand.Rand, ms int64) (v *visitor, returning bool) {
	if n := len(vs.pool); n > 0 && r.Float64() < returningShare {
		u := r.Float64()
		back := int(float64(n) * u * u) // recent visitors come back more
		newest := n - 1
		if n == poolSize {
			newest = (vs.next - 1 + n) % n
		}
		i := (newest - back + n) % n
		if v := &vs.pool[i]; v.free <= ms {
			return v, true
		}
	}
	return vs.add(newVisitor(r, people)), false
}

func (vs *visitors) add(v visitor) *visitor {
	if len(vs.pool) < poolSize {
		vs.pool = append(vs.pool, v)
		return &vs.pool[len(vs.pool)-1]
	}
	i := vs.next
	vs.pool[i] = v
	vs.next = (i + 1) % poolSize
	return &vs.pool[i]
}

// firstOctets are of networks that European consumer ISPs announce.
var firstOctets = []byte{31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 176, 178, 185, 188, 212, 213, 217}

// newVisitor draws a visitor whose browser is one of agents.
func newVisitor(r *rand.Rand, agents []agent) visitor {
	v := visitor{
		agent:  uint8(pick(r, len(agents), func(i int) float64 { return agents[i].weight })),
		locale: uint8(pick(r, len(locales), func(i int) float64 { return locales[i].weight })),
		net:    [3]byte{firstOctets[r.IntN(len(firstOctets))], byte(r.IntN(256)), byte(r.IntN(256))},
	}
	v.id = uuid(r)
	v.screen = uint8(pickScreen(r, agents[v.agent].Device))
	return v
}

// pickScreen favours the first, most common sizes of a device.
func pickScreen(r *rand.Rand, device string) int {
	n := len(screens[device])
	return pick(r, n, func(i int) float64 { return 1 / float64(i+1) })
}

func (v *visitor) ip() string {
	return fmt.Sprintf("%d.%d.%d.0", v.net[0], v.net[1], v.net[2])
}

// uuid draws a version 4 UUID from r, so ids repeat with the seed.
func uuid(r *rand.Rand) [16]byte {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		x := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(x >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

// uuidString formats b as 8-4-4-4-12 lower-case hex.
func uuidString(b [16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}
