import CPlatform

/// Where the members of a `runTeam` call meet.
struct TeamBarrier {
    fileprivate let barrier: OpaquePointer
    /// Returns once every member of the team has called it (as often as this one).
    @inline(__always) func wait() { rnnkit_barrier_wait(barrier) }
}

/// Runs `body(member, barrier)` for every member in `0..<members` at once, each on a thread of its
/// own (member 0 on the caller's), for work whose members meet many times a millisecond at
/// `barrier.wait()`; returns false, having run nothing, when the threads cannot be made.
///
/// `parallelRows` (Dispatch's concurrentPerform) suits work that meets once: its pool wakes too
/// slowly for a meeting every few microseconds, and may run the iterations one after another on the
/// calling thread, where a barrier between them would never open. Every member must call
/// `barrier.wait()` equally often. Members write disjoint memory between meetings.
func runTeam(_ members: Int, _ body: (Int, TeamBarrier) -> Void) -> Bool {
    withoutActuallyEscaping(body) { body in
        final class Context {
            let body: (Int, TeamBarrier) -> Void
            init(_ body: @escaping (Int, TeamBarrier) -> Void) { self.body = body }
        }
        let context = Context(body)
        return withExtendedLifetime(context) {
            rnnkit_team_run(Int32(members), { raw, barrier, member in
                let context = Unmanaged<Context>.fromOpaque(raw!).takeUnretainedValue()
                context.body(Int(member), TeamBarrier(barrier: barrier!))
            }, Unmanaged.passUnretained(context).toOpaque()) == 0
        }
    }
}
