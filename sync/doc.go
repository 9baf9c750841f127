// Package datasync is mportal's offline sync engine. It speaks WatermelonDB's sync protocol
// (pull: changes since a cursor; push: the device's local changes) over tables that domain
// packages register: a Table knows its collection and who may see which record; the engine owns
// the cursor, access grants, tombstone horizon, push decoding and rejected records.
//
// The cursor is a low-water mark over one sequence: every write takes the next number, stamps
// the documents it writes with it (field "_seq") and stays "pending" until it has committed. A
// pull answers with timestamp L = (lowest pending number) - 1: every write numbered <= L has
// committed, so the next pull, which asks for _seq > L, cannot skip a write that committed out of
// order. The sequence starts at 1 and no write takes that number, so L is never below 1
// (WatermelonDB refuses a timestamp of 0). See seq.go and write.go.
//
// A pull sends every live record in "updated" and none in "created" (apps pass WatermelonDB's
// sendCreatedAsUpdated: true); see TableWriter for why.
//
// The directory is sync/ but the package is datasync so that it does not shadow the standard
// library's sync package.
package datasync
