import Foundation

/// The steps of a batch's samples, shared out among the cores as they come free.
///
/// The recurrent engine's samples are independent of one another, but each sample's steps must run
/// in order. Given a fixed share of the batch for all its steps, a core that finishes early waits for
/// the last, and on a machine whose cores run at different speeds from moment to moment (a shared
/// virtual machine, other work, cores of two kinds) that wait is large: on AMD EPYC (AVX2), 2 cores,
/// the two halves of one LSTM batch took between 32 and 46 ms each, and the cores were busy only
/// 1.7–1.8 of 2 CPUs in inference. Here the samples start in one piece per core; a core that runs out
/// of pieces takes the upper half of a running piece's samples from its next step on, and both carry
/// on. A piece of fewer than `2 × minimumRows` samples is not split; it runs to its end where it is.
/// Nor is any piece of a job added as not `splittable`: the engine splits only where each sample's
/// numbers do not depend on which others share its products (the packed kernel computes every row
/// of a product alike; BLAS may not), so that a run gives the same numbers however it was shared out.
///
/// Several jobs may share a pool (the two directions of a bidirectional layer, each added by the
/// thread that runs it): a core that finishes one direction then helps with the other. A worker
/// leaves once nothing is queued, no piece it could get a share of is running, and the job it added
/// (whose buffers its caller reads next) is done, wherever it ran; a job added after that is run by
/// its own thread alone, and nothing waits for a job that has not been added.
@_spi(Testing) public final class StepPool: @unchecked Sendable {
    /// Runs step `step` (the `step`-th taken, from 0) for the samples `rows`, on worker `worker` (below
    /// the number of `work()` callers: an index for per-core scratch). Every step of a sample runs
    /// after its step before, on one core or another; the pool orders their memory.
    public typealias Step = (_ rows: Range<Int>, _ step: Int, _ worker: Int) -> Void

    private struct Job { let steps: Int, minimumRows: Int, splittable: Bool, run: Step }
    private struct Piece { let job: Int; var rows: Range<Int>; var next: Int }
    private let lock = NSLock()
    private var jobs: [Job] = []
    private var unfinished: [Int] = []  // per job, pieces queued or running
    private var queue: [Piece] = []
    private var splittable = 0  // pieces of splittable jobs taken and not finished: what a waiting worker may get a share of
    private var idle = 0     // workers waiting for a piece
    private var workers = 0  // worker indices handed out

    public init() {}

    /// Queues a job of `rows` samples × `steps` steps in `pieces` pieces of consecutive samples;
    /// returns its number, for `work(until:)`.
    @discardableResult
    public func add(rows: Int, steps: Int, pieces: Int, minimumRows: Int, splittable: Bool, _ run: @escaping Step) -> Int {
        precondition(rows > 0 && steps > 0 && pieces > 0 && pieces <= rows && minimumRows > 0, "bad step job")
        lock.lock()
        let job = jobs.count
        jobs.append(Job(steps: steps, minimumRows: minimumRows, splittable: splittable, run: run))
        unfinished.append(pieces)
        // Queued last first, so that the first caller of `work()` takes the first samples.
        for k in (0..<pieces).reversed() {
            queue.append(Piece(job: job, rows: (k * rows / pieces)..<((k + 1) * rows / pieces), next: 0))
        }
        lock.unlock()
        return job
    }

    /// Runs pieces until none is queued, nor running that could be split, and job `own` (the caller's,
    /// whose buffers it then reads) is done; its pieces first.
    public func work(until own: Int? = nil) {
        lock.lock()
        let me = workers
        workers += 1
        var waiting = false
        while true {
            if let index = queue.lastIndex(where: { $0.job == own }) ?? queue.indices.last {
                let piece = queue.remove(at: index)
                if waiting { (idle, waiting) = (idle - 1, false) }
                let job = jobs[piece.job]
                if job.splittable { splittable += 1 }
                lock.unlock()
                run(piece, job, worker: me)
                lock.lock()
                if job.splittable { splittable -= 1 }
                unfinished[piece.job] -= 1
                continue
            }
            if splittable == 0, own.map({ unfinished[$0] == 0 }) ?? true { break }
            if !waiting { (idle, waiting) = (idle + 1, true) }
            lock.unlock()
            sched_yield()  // a piece is split within one step of someone's
            lock.lock()
        }
        if waiting { idle -= 1 }
        lock.unlock()
    }

    /// Runs `piece` to its end, handing the upper half of its samples to a waiting worker when there is one.
    private func run(_ piece: Piece, _ job: Job, worker: Int) {
        var rows = piece.rows
        for step in piece.next..<job.steps {
            job.run(rows, step, worker)
            guard job.splittable, step + 1 < job.steps, rows.count >= 2 * job.minimumRows else { continue }
            lock.lock()
            if idle > queue.count {
                let middle = rows.lowerBound + rows.count / 2
                queue.append(Piece(job: piece.job, rows: middle..<rows.upperBound, next: step + 1))
                unfinished[piece.job] += 1
                rows = rows.lowerBound..<middle
            }
            lock.unlock()
        }
    }

    /// Runs a job of `rows` samples × `steps` steps on up to `threads` cores, starting from one piece
    /// per core of at least `minimumRows` samples; with `pool`, adds it there and works on the pool
    /// from the calling thread (whose other callers supply the other cores).
    static func run(rows: Int, steps: Int, minimumRows: Int, threads: Int, splittable: Bool, pool: StepPool?,
                    _ step: @escaping Step) {
        let pieces = max(1, min(threads, rows / minimumRows))
        if let pool {
            pool.work(until: pool.add(rows: rows, steps: steps, pieces: pieces, minimumRows: minimumRows,
                                      splittable: splittable, step))
            return
        }
        let pool = StepPool()
        pool.add(rows: rows, steps: steps, pieces: pieces, minimumRows: minimumRows, splittable: splittable, step)
        parallelRows(pieces, minimumRows: 1, threads: pieces) { _, _ in pool.work() }
    }
}
