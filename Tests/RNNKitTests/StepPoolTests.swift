import Foundation
@_spi(Testing) import RNNKit
import Testing

/// The pool that shares a batch's steps out among the cores (Tensor/StepPool.swift): every sample's
/// steps run once each and in order, whoever runs them; a core that runs out takes half of a slow
/// piece's samples, also from another job of the same pool; never below the minimum, and never for a
/// job that must not be split. Slowness is made, not hoped for: the slow piece's steps wait until the
/// fast one has finished, then take 2 ms each.
@Suite struct StepPoolTests {
    /// The calls a pool made, in the order they ran.
    final class Log: @unchecked Sendable {
        struct Call { let job: Int, rows: Range<Int>, step: Int, worker: Int }
        private let lock = NSLock()
        private(set) var calls: [Call] = []
        private var finished = Set<Int>()
        func record(_ call: Call) { lock.withLock { calls.append(call) } }
        func finish(_ job: Int) { lock.withLock { _ = finished.insert(job) } }
        func isFinished(_ job: Int) -> Bool { lock.withLock { finished.contains(job) } }
        func hasStarted(_ job: Int) -> Bool { lock.withLock { calls.contains { $0.job == job } } }

        /// Waits, at most 10 s, until `condition` holds.
        func wait(until condition: () -> Bool) {
            let start = Date()
            while !condition(), Date().timeIntervalSince(start) < 10 { usleep(100) }
        }

        /// A step of `job`: the rows `slow` picks first wait for job `waitFor` to finish, then take
        /// 2 ms a step; the others are quick, and their last step marks `job` finished. With
        /// `startAfter`, the first step waits until that job has begun.
        func step(job: Int, steps: Int, slow: @escaping @Sendable (Range<Int>) -> Bool, waitFor: Int?,
                  startAfter: Int? = nil) -> StepPool.Step {
            { rows, step, worker in
                if step == 0, let first = startAfter { self.wait { self.hasStarted(first) } }
                self.record(Call(job: job, rows: rows, step: step, worker: worker))
                if slow(rows) {
                    if let other = waitFor { self.wait { self.isFinished(other) } }
                    usleep(2000)
                } else if step == steps - 1 {
                    self.finish(job)
                }
            }
        }

        /// Whether every row of `rows` ran steps 0..<steps of `job` exactly once, in order.
        func ranInOrder(job: Int, rows: Int, steps: Int) -> Bool {
            let calls = lock.withLock { self.calls }
            var next = [Int](repeating: 0, count: rows)
            for call in calls where call.job == job {
                for r in call.rows {
                    guard r >= 0, r < rows, next[r] == call.step else { return false }
                    next[r] += 1
                }
            }
            return next.allSatisfy { $0 == steps }
        }
    }

    /// Runs `body(member)` on two threads of their own at once.
    func onTwoThreads(_ body: @escaping @Sendable (Int) -> Void) {
        let done = DispatchSemaphore(value: 0)
        for member in 0..<2 {
            Thread { body(member); done.signal() }.start()
        }
        done.wait()
        done.wait()
    }

    @Test(arguments: [true, false])
    func slowPieceIsSharedOnlyWhenSplittable(splittable: Bool) {
        let (rows, steps) = (64, 30)
        let log = Log(), pool = StepPool()
        // Job 0 is its own "other": the upper half (quick) marks it finished at its last step.
        pool.add(rows: rows, steps: steps, pieces: 2, minimumRows: 4, splittable: splittable,
                 log.step(job: 0, steps: steps, slow: { $0.lowerBound < 32 }, waitFor: 0))
        onTwoThreads { _ in pool.work() }
        #expect(log.ranInOrder(job: 0, rows: rows, steps: steps))
        #expect(log.calls.allSatisfy { $0.rows.count >= 4 })
        let slowWorkers = Set(log.calls.filter { $0.rows.lowerBound < 32 }.map(\.worker))
        if splittable {
            #expect(log.calls.contains { $0.rows.lowerBound < 32 && $0.rows.count < 32 }, "the slow piece was never split")
            #expect(slowWorkers.count == 2, "the quick worker never helped with the slow samples")
        } else {
            #expect(log.calls.allSatisfy { $0.rows == 0..<32 || $0.rows == 32..<64 })
            #expect(slowWorkers.count == 1)
        }
    }

    /// Two jobs, each added by the thread that runs it (the directions of a bidirectional layer):
    /// the thread whose job is quick helps with the slow one, and each thread returns once its own
    /// job is whole (the engine then reads that direction's buffers). (The quick job starts once the slow one
    /// has: a worker that found nothing else running would leave, rightly, before the slow job came.)
    @Test func jobsOfOnePoolHelpEachOther() {
        let (rows, steps) = (40, 25)
        let log = Log(), pool = StepPool()
        let ownDone = Log()  // a call per thread whose own job was whole when work(until:) returned
        onTwoThreads { member in
            let job = member == 0
                ? pool.add(rows: rows, steps: steps, pieces: 1, minimumRows: 4, splittable: true,
                           log.step(job: 0, steps: steps, slow: { _ in true }, waitFor: 1))
                : pool.add(rows: rows, steps: steps, pieces: 1, minimumRows: 4, splittable: true,
                           log.step(job: 1, steps: steps, slow: { _ in false }, waitFor: nil, startAfter: 0))
            pool.work(until: job)
            if log.ranInOrder(job: member, rows: rows, steps: steps) {
                ownDone.record(Log.Call(job: member, rows: 0..<1, step: 0, worker: 0))
            }
        }
        #expect(ownDone.calls.count == 2, "a thread left before its own job was done")
        #expect(log.ranInOrder(job: 0, rows: rows, steps: steps))
        #expect(log.ranInOrder(job: 1, rows: rows, steps: steps))
        #expect(Set(log.calls.filter { $0.job == 0 }.map(\.worker)).count == 2, "nobody helped with the slow job")
        #expect(log.calls.allSatisfy { $0.rows.count >= 4 })
    }
}
