package fairqueue

import "sync"

// lanes is a workqueue.Queue that keeps one FIFO per key and pops from the
// lane with the fewest items in flight. The workqueue calls Push, Pop, Len
// and Touch under its own lock; done comes from workers outside it, so lanes
// has a mutex of its own (never held while taking the workqueue's).
type lanes[T comparable] struct {
	key func(T) string

	mu sync.Mutex
	// byKey holds every lane with queued or in-flight items; a lane with
	// neither is dropped, so a removed member leaves nothing behind.
	byKey map[string]*lane[T]
	// ring lists the lanes with queued items in round-robin order; next is
	// the position the next Pop starts looking from.
	ring []*lane[T]
	next int
	len  int
}

type lane[T comparable] struct {
	key      string
	items    []T
	inflight int
}

func newLanes[T comparable](key func(T) string) *lanes[T] {
	return &lanes[T]{key: key, byKey: map[string]*lane[T]{}}
}

// Touch keeps an item that is added again where it is (FIFO, like the
// default queue).
func (q *lanes[T]) Touch(T) {}

// Push appends item to its lane.
func (q *lanes[T]) Push(item T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := q.key(item)
	l := q.byKey[k]
	if l == nil {
		l = &lane[T]{key: k}
		q.byKey[k] = l
	}
	if len(l.items) == 0 {
		// A lane that becomes busy joins just before the cursor: it is
		// served after every lane already waiting.
		q.ring = append(q.ring, nil)
		copy(q.ring[q.next+1:], q.ring[q.next:])
		q.ring[q.next] = l
		q.next++
		if q.next == len(q.ring) {
			q.next = 0
		}
	}
	l.items = append(l.items, item)
	q.len++
}

// Len is the number of queued items over all lanes.
func (q *lanes[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.len
}

// Pop takes the head of the lane with the fewest items in flight, the first
// such lane from the cursor on. The workqueue calls it only when Len() > 0.
func (q *lanes[T]) Pop() T {
	q.mu.Lock()
	defer q.mu.Unlock()
	best := -1
	for i := range q.ring {
		pos := (q.next + i) % len(q.ring)
		if best < 0 || q.ring[pos].inflight < q.ring[best].inflight {
			best = pos
		}
	}
	l := q.ring[best]
	item := l.items[0]
	var zero T
	l.items[0] = zero // let the item be collected
	l.items = l.items[1:]
	l.inflight++
	q.len--
	if len(l.items) == 0 {
		l.items = nil
		q.ring = append(q.ring[:best], q.ring[best+1:]...)
		q.next = best // the lane after it moved into its place
	} else {
		q.next = best + 1
	}
	if q.next >= len(q.ring) {
		q.next = 0
	}
	return item
}

// done records that a worker finished item (workqueue Done).
func (q *lanes[T]) done(item T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := q.key(item)
	l := q.byKey[k]
	if l == nil || l.inflight == 0 {
		return // Done without Get: the workqueue ignores it too
	}
	l.inflight--
	if l.inflight == 0 && len(l.items) == 0 {
		delete(q.byKey, k)
	}
}

// stats returns queued and in-flight items of key (tests, metrics).
func (q *lanes[T]) stats(key string) (queued, inflight int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if l := q.byKey[key]; l != nil {
		return len(l.items), l.inflight
	}
	return 0, 0
}

// size is the number of lanes tracked.
func (q *lanes[T]) size() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.byKey)
}
