// Package rollout holds the pure rules of staged rollouts, modelled on Google Play: which users a
// release at a given percentage reaches, which release an update check offers a device, and which
// rollout transitions (raise, halt, resume, complete) are allowed. It has no storage and no HTTP so
// that the update-check view can evaluate it in memory on every request.
package rollout

import (
	"crypto/sha256"
	"encoding/binary"
)

// bucketCount is the number of cohort buckets. A million buckets make the smallest step 0.0001%,
// fine enough for a first "0.1% of users" rollout to be a real, reproducible cohort.
const bucketCount = 1_000_000

// hashBufferSize covers typical seeds and user ids (ObjectID hex strings) so that hashing needs no
// heap allocation; longer inputs still work, they just allocate.
const hashBufferSize = 128

// InCohort reports whether the user belongs to the first percent of the rollout identified by seed.
//
// Membership depends only on (seed, userID, percent): halting and resuming a rollout reaches exactly
// the same users, raising the percentage only adds users, and different seeds pick independent
// cohorts so the same early adopters are not the guinea pigs for every release. A percent below 0
// (or NaN) reaches nobody and one above 100 reaches everybody.
func InCohort(seed, userID string, percent float64) bool {
	// NaN fails both comparisons below, so it is handled by the explicit check: nobody.
	if !(percent > 0) {
		return false
	}
	if percent >= 100 {
		return true
	}
	return float64(bucket(seed, userID)) < percent*(bucketCount/100)
}

// bucket maps (seed, userID) uniformly onto [0, bucketCount). The NUL separator keeps
// ("ab", "c") and ("a", "bc") apart. The modulo bias of 2^64 mod 10^6 is below 10^-13.
func bucket(seed, userID string) uint64 {
	var buf [hashBufferSize]byte
	b := append(buf[:0], seed...)
	b = append(b, 0)
	b = append(b, userID...)
	sum := sha256.Sum256(b)
	return binary.BigEndian.Uint64(sum[:8]) % bucketCount
}
