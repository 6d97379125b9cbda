// Package fairqueue is a controller work queue that is fair across member
// clusters. The default workqueue is one FIFO shared by every member, so a
// member with a backlog of thousands of CRs, a slow apiserver or a low
// client-side rate limit holds every worker and delays every other member.
//
// Here each member (the lane key, the request's ClusterName) has its own FIFO
// and the next item always comes from the lane with the fewest items in
// flight, ties broken round-robin. A member can therefore hold more than its
// share of workers only while no other member has work waiting. Everything
// else — deduplication, delayed and rate-limited adds, Forget, shutdown,
// metrics — is client-go's workqueue unchanged: the fair order plugs in
// through workqueue.Queue.
package fairqueue
