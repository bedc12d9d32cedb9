import ArgumentParser
import Foundation
import RNNKit

/// The part of every `train` command that is the same for each task: Ctrl-C, the live progress
/// line, one line per evaluation point, saving through `Trainer.fit`, and the message after a stop.
///
/// - Parameters:
///   - command: how the user resumes, e.g. "rnnkit train mnist".
///   - metrics: the run's metrics lines so far (a resumed run's).
///   - quiet: when it says yes for an evaluation point's metrics, no line is printed for it.
///   - onStep: extra work after every step (seed 001's prediction printout).
/// - Returns: the metrics of this run's evaluation points.
func runTraining<Task: TrainingTask>(
    _ trainer: Trainer<Task>, directory: String, command: String, metrics: inout [String],
    save: (_ metrics: [String], _ curves: String) throws -> Void,
    quiet: (TrainingMetrics) -> Bool = { _ in false }, onStep: (StepReport, inout ProgressLine) -> Void = { _, _ in }
) throws -> [TrainingMetrics] {
    let task = trainer.task
    var progressLine = ProgressLine()
    var epochStart = Date()
    var results: [TrainingMetrics] = []
    let unit = task.throughputUnit == "characters" ? "chars" : task.throughputUnit
    Interruption.catchInterrupts()
    let outcome = try trainer.fit(metrics: &metrics, title: "\(command): \(directory)", save: save, onStep: { r in
        if r.stepInEpoch == 1 { epochStart = Date() }
        onStep(r, &progressLine)
        progressLine.update(step: r.stepInEpoch, of: r.stepsInEpoch, since: epochStart) {
            String(format: "epoch %d/%d  step %d/%d  loss %.4f", r.epoch, trainer.totalEpochs, r.stepInEpoch, r.stepsInEpoch, r.loss)
                + task.figures.compactMap { f in r.figures["train" + f.key].map { "  \(f.label) " + f.format($0) } }.joined()
                + String(format: "  %.0f %@/s", r.samplesPerSecond, unit)
        }
    }, onEvaluation: { m in
        progressLine.clear()
        results.append(m)
        guard !quiet(m) else { return }
        func figures(_ prefix: String) -> String {
            task.figures.compactMap { f in m[prefix + f.key].map { " \(f.label) " + f.format($0) } }.joined()
        }
        log(String(format: "epoch %d/%d  step %d  train loss %.4f", m.epoch, trainer.totalEpochs, m.step, m.trainLoss) + figures("train")
            + (m.validationLoss.map { String(format: "  val loss %.4f", $0) + figures("validation") } ?? "")
            + String(format: "  %.0f %@/s  %.1f s", m[task.throughputUnit + "PerSecond"] ?? 0, unit, m.seconds)
            + (m.isBest && m.validationLoss != nil ? "  (best)" : "")
            + (m.skippedSteps.map { "  (\($0) steps skipped: not finite)" } ?? ""))
    })
    progressLine.clear()
    if case .stopped = outcome { throw interrupted(directory, trainer.progress, command: command) }
    return results
}

/// The `--json` fields every training run reports.
func trainingSummary<Task: TrainingTask>(_ trainer: Trainer<Task>, directory: String) -> [String: Any] {
    let p = trainer.progress
    return ["epochs": p.epoch, "steps": p.step, "samples": p.samplesSeen, "seconds": p.seconds,
            "train_\(trainer.task.throughputUnit)_per_s": Double(p.samplesSeen) / max(p.seconds, 1e-9),
            "skipped_steps": p.skippedSteps ?? 0, "model": directory]
}

/// The line a resumed run starts with.
func resumeNote(_ directory: String, _ progress: TrainingProgress) -> String {
    "resuming \(directory) after epoch \(progress.epoch)"
        + (progress.partialEpoch.map { " and \($0.steps) steps of the next" } ?? "") + " (step \(progress.step))"
}

/// The processes this run trains with: the MPI job when `--distributed` asks for it or when mpirun
/// started several ranks (each would otherwise train alone into the same folder), else one process.
/// Ranks other than 0 print nothing from here on but errors.
func joinProcessGroup(distributed: Bool) throws -> ProcessGroup {
    guard distributed || (ProcessGroup.launcher?.size ?? 1) > 1 else { return .single }
    let group = try ProcessGroup.joinMPI()
    if !group.isPrimary {
        outputIsQuiet = true
        Interruption.quiet()
    }
    return group
}

extension ProcessGroup {
    /// Checks that a global batch of `batch` rows (or streams) gives every rank at least one, and says
    /// how the run is split.
    func describe(batch: Int) throws {
        guard usesMPI else { return }
        guard batch >= size else {
            throw ValidationError("--batch \(batch) cannot be split over \(size) ranks: the batch is global, so give at least one row per rank (--batch \(size) or more).")
        }
        log("distributed: \(size) ranks × \(computeThreads) threads; global batch \(batch), \(batch / size)\(batch % size == 0 ? "" : "–\(batch / size + 1)") per rank")
    }
}
