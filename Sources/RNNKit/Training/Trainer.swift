import Foundation

/// What the training loop needs of a task's options: the budget, the optimizer and the guards.
/// Each task keeps its own options type in `config.json` and describes it with this.
public struct TrainingSchedule: Sendable {
    /// Passes over the training data (when neither `samples` nor `steps` is set).
    public var epochs: Int
    /// A budget of training examples instead of epochs.
    public var samples: Int?
    /// A budget of optimizer steps instead of epochs.
    public var steps: Int?
    public var optimizer: OptimizerConfiguration
    public var clipNorm: Double?
    /// Multiply the learning rate by this after every epoch.
    public var learningRateDecay: Double?
    public var seed: UInt64
    /// Also evaluate (and save) every this many steps, not only at the end of each epoch.
    public var evaluateEvery: Int?
    /// Skip a step whose loss or gradients are not finite instead of stopping.
    public var skipNonFiniteSteps: Bool
    /// Linear learning-rate warm-up: step s (0-based) of the first `warmupSteps` trains at
    /// (s+1)/warmupSteps of the rate (Goyal et al. 2017's gradual warm-up for large batches).
    public var warmupSteps: Int?

    public init(epochs: Int, samples: Int? = nil, steps: Int? = nil, optimizer: OptimizerConfiguration, clipNorm: Double? = nil,
                learningRateDecay: Double? = nil, seed: UInt64, evaluateEvery: Int? = nil, skipNonFiniteSteps: Bool = false,
                warmupSteps: Int? = nil) {
        self.warmupSteps = warmupSteps
        self.epochs = epochs
        self.samples = samples
        self.steps = steps
        self.optimizer = optimizer
        self.clipNorm = clipNorm
        self.learningRateDecay = learningRateDecay
        self.seed = seed
        self.evaluateEvery = evaluateEvery
        self.skipNonFiniteSteps = skipNonFiniteSteps
    }
}

extension TrainingSchedule {
    /// Checks every setting.
    public func validate() throws(RNNKitError) {
        try requirePositive(epochs, "epochs")
        if let samples { try requirePositive(samples, "samples") }
        if let steps { try requirePositive(steps, "steps") }
        if let evaluateEvery { try requirePositive(evaluateEvery, "eval-every") }
        if let warmupSteps { try requirePositive(warmupSteps, "warmup") }
        try optimizer.validate()
        if let clipNorm, !(clipNorm > 0) {
            throw .invalidValue(argument: "clip", expected: "a positive norm", found: "\(clipNorm)", hint: "Try --clip 5.")
        }
        if let d = learningRateDecay, !(d > 0 && d <= 1) {
            throw .invalidValue(argument: "lr-decay", expected: "a factor in (0, 1]", found: "\(d)", hint: "0.95 shrinks the rate 5% per epoch.")
        }
    }
}

/// One training step's loss, as a task computes it.
public struct TrainingBatch {
    /// The mean loss over the batch, recorded for `backward()`.
    public var loss: Variable<Float>
    /// What the loss averages over (examples, or predicted characters); weights the running mean.
    public var count: Int
    /// Sums for the task's training figures (e.g. `["correct": 17]`), added up while the steps are applied.
    public var sums: [String: Double]
    /// What the loss is a mean over (its denominator: examples, labelled steps, predicted values).
    /// Ranks of a distributed run weight their gradients by it, so that their sum is the gradient of
    /// the global batch's mean. Defaults to `count`.
    public var lossWeight: Double

    public init(loss: Variable<Float>, count: Int, sums: [String: Double] = [:], lossWeight: Double? = nil) {
        self.loss = loss
        self.count = count
        self.sums = sums
        self.lossWeight = lossWeight ?? Double(count)
    }
}

/// A figure a task reports beside the loss: `train<key>` and `validation<key>` in the metrics.
public struct ReportedFigure: Sendable {
    /// The metrics key after `train`/`validation`, e.g. "Accuracy".
    public var key: String
    /// The short label of progress lines, e.g. "acc".
    public var label: String
    /// Shown as a percentage.
    public var isPercentage: Bool

    /// The title of its panel in curves.svg, e.g. "accuracy".
    public var name: String

    public init(key: String, label: String, name: String, isPercentage: Bool = false) {
        self.key = key
        self.label = label
        self.name = name
        self.isPercentage = isPercentage
    }

    /// `value` as progress lines show it.
    public func format(_ value: Double) -> String {
        isPercentage ? String(format: "%.2f%%", 100 * value) : String(format: "%.4f", value)
    }
}

/// A task the training loop can run: it supplies the model's parameters, the batches and their
/// loss, and the validation figures; the loop does the rest (budget, epochs, evaluation points,
/// optimizer steps, clipping, the non-finite guard, resuming, metrics).
public protocol TrainingTask: AnyObject {
    /// The parameters the optimizer updates, under their checkpoint names.
    var parameters: [(name: String, variable: Variable<Float>)] { get }
    /// Examples in one pass over the training data (what a `samples` budget counts).
    var examplesPerEpoch: Int { get }
    /// Steps that go through the first `examples` examples of an epoch.
    func steps(forExamples examples: Int) -> Int
    /// Starts an epoch: draws its order from `generator` if the task shuffles. Called again with the
    /// epoch's starting generator when a run resumes part-way through it, to rebuild the same order.
    func beginEpoch(shuffling generator: inout SeededGenerator)
    /// The loss of step `step` (0-based) of the epoch, which covers its first `limit` examples;
    /// dropout masks come from `generator`. In a group of several processes, the loss of this rank's
    /// share of the step's batch (`ProcessGroup.share`), or nil when its share is empty (a last
    /// partial batch with fewer rows than ranks); alone, never nil.
    func trainingBatch(step: Int, limit: Int, group: ProcessGroup, generator: inout SeededGenerator) throws -> TrainingBatch?
    /// After each step: whether it changed the weights (false when skipped as not finite).
    func endStep(applied: Bool)
    /// After the last step of an epoch.
    func endEpoch()
    /// The loss and figures (keyed as `figures`) on the validation data; nil when there is none.
    /// In a group, each rank evaluates a part and the sums are added up over the ranks (every
    /// rank returns the same figures).
    func validate(group: ProcessGroup) throws -> (loss: Double, figures: [String: Double])?
    /// The training figures of a stretch of steps from its sums and count.
    func trainingFigures(sums: [String: Double], count: Int) -> [String: Double]
    /// The figures besides the loss, in display order; the first is drawn in curves.svg.
    var figures: [ReportedFigure] { get }
    /// What `count` counts, for throughput figures: "samples" or "characters" (the metrics key is
    /// `<unit>PerSecond`).
    var throughputUnit: String { get }
    /// The keys of `TrainingBatch.sums`, the same on every step (a distributed run adds them up over
    /// the ranks in this order).
    var sumKeys: [String] { get }
    /// A hash of the training data, compared across the ranks of a distributed run before training.
    func dataFingerprint() -> UInt64
    /// Called on every rank before rank 0 saves a checkpoint (collective work the save needs).
    func prepareSave(group: ProcessGroup) throws
}

extension TrainingTask {
    public func endStep(applied: Bool) {}
    public func endEpoch() {}
    public func trainingFigures(sums: [String: Double], count: Int) -> [String: Double] { [:] }
    public var figures: [ReportedFigure] { [] }
    public var throughputUnit: String { "samples" }
    public var sumKeys: [String] { [] }
    public func dataFingerprint() -> UInt64 { Fingerprint().adding(examplesPerEpoch).value }
    public func prepareSave(group: ProcessGroup) throws {}
}

/// FNV-1a, 64 bits: a cheap hash for telling ranks apart that were started differently.
public struct Fingerprint: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    public init() {}
    public mutating func add<T: BitwiseCopyable>(_ values: some Collection<T>) {
        for v in values {
            withUnsafeBytes(of: v) { bytes in
                for b in bytes { value = (value ^ UInt64(b)) &* 0x100_0000_01b3 }
            }
        }
    }
    public func adding<T: BitwiseCopyable>(_ value: T) -> Fingerprint {
        var f = self
        f.add(CollectionOfOne(value))
        return f
    }
    public mutating func add(_ text: String) { add(Array(text.utf8)) }
}

/// What one evaluation point measured; one line of `metrics.jsonl`. The task's figures
/// (`trainAccuracy`, `validationBitsPerCharacter`, the throughput, ...) sit beside the fixed
/// fields in the same JSON object.
public struct TrainingMetrics: Codable, Equatable, Sendable {
    /// Epochs completed.
    public var epoch: Int
    /// Steps taken, skipped ones included.
    public var step: Int
    /// Mean training loss over the stretch since the last evaluation point (applied steps only).
    public var trainLoss: Double
    public var validationLoss: Double?
    /// Seconds of training in the stretch.
    public var seconds: Double
    /// The learning rate the stretch trained with.
    public var learningRate: Double
    /// Whether the validation loss is the lowest so far (always true without validation).
    public var isBest: Bool
    /// Steps of the stretch skipped because their loss or gradients were not finite; nil when none were.
    public var skippedSteps: Int?
    /// The task's figures, by metrics key.
    public var figures: [String: Double]

    public init(epoch: Int, step: Int, trainLoss: Double, validationLoss: Double?, seconds: Double, learningRate: Double,
                isBest: Bool, skippedSteps: Int?, figures: [String: Double]) {
        self.epoch = epoch
        self.step = step
        self.trainLoss = trainLoss
        self.validationLoss = validationLoss
        self.seconds = seconds
        self.learningRate = learningRate
        self.isBest = isBest
        self.skippedSteps = skippedSteps
        self.figures = figures
    }

    public subscript(key: String) -> Double? { figures[key] }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
    private static let fixed: Set<String> = ["epoch", "step", "trainLoss", "validationLoss", "seconds", "learningRate", "isBest",
                                             "skippedSteps"]

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        epoch = try c.decode(Int.self, forKey: Key("epoch"))
        step = try c.decodeIfPresent(Int.self, forKey: Key("step")) ?? 0
        trainLoss = try c.decode(Double.self, forKey: Key("trainLoss"))
        validationLoss = try c.decodeIfPresent(Double.self, forKey: Key("validationLoss"))
        seconds = try c.decodeIfPresent(Double.self, forKey: Key("seconds")) ?? 0
        learningRate = try c.decodeIfPresent(Double.self, forKey: Key("learningRate")) ?? .nan
        isBest = try c.decodeIfPresent(Bool.self, forKey: Key("isBest")) ?? false
        skippedSteps = try c.decodeIfPresent(Int.self, forKey: Key("skippedSteps"))
        figures = [:]
        for key in c.allKeys where !Self.fixed.contains(key.stringValue) {
            if let value = try? c.decode(Double.self, forKey: key) { figures[key.stringValue] = value }
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(epoch, forKey: Key("epoch"))
        try c.encode(step, forKey: Key("step"))
        try c.encode(trainLoss, forKey: Key("trainLoss"))
        try c.encodeIfPresent(validationLoss, forKey: Key("validationLoss"))
        try c.encode(seconds, forKey: Key("seconds"))
        try c.encode(learningRate, forKey: Key("learningRate"))
        try c.encode(isBest, forKey: Key("isBest"))
        try c.encodeIfPresent(skippedSteps, forKey: Key("skippedSteps"))
        for (key, value) in figures where !Self.fixed.contains(key) { try c.encode(value, forKey: Key(key)) }
    }
}

/// A training step in flight, for progress displays.
public struct StepReport: Sendable {
    /// The epoch in progress (1-based).
    public var epoch: Int
    /// Steps taken in the whole run.
    public var step: Int
    /// Steps taken in this epoch, and how many it has.
    public var stepInEpoch: Int
    public var stepsInEpoch: Int
    /// Running mean loss and figures since the last evaluation point.
    public var loss: Double
    public var figures: [String: Double]
    public var samplesPerSecond: Double
}

/// A loss or gradient stopped being a finite number.
public struct NonFiniteLoss: Error, CustomStringConvertible {
    public var step: Int
    public var epoch: Int
    /// What was not finite: "the loss" or "the gradient of NAME".
    public var problem: String
    /// Steps in a row that were not finite (more than 1 only when skipping them could not help).
    public var inARow = 1
    public var description: String {
        (inARow > 1 ? "\(problem) was NaN or infinite \(inARow) steps in a row, up to step \(step) (epoch \(epoch)), so skipping them "
            + "cannot help; " : "\(problem) became NaN or infinite at step \(step) (epoch \(epoch)); ")
            + "training stopped and the last checkpoint is kept. "
            + "Lower the learning rate (--lr), clip gradients (--clip 5)" + (inARow > 1 ? "." : ", or skip such steps (--skip-non-finite).")
    }
}

/// Checks that a training run fits the memory budget: weights, gradients and two optimizer moments
/// per parameter, plus `scalarsPerExample` Floats for each of `examples` (batch × steps) a step keeps.
func requireTrainingMemory(parameters: Double, examples: Double, scalarsPerExample: Double, for what: String, hint: String)
    throws(RNNKitError) {
    try MemoryBudget.require(4 * (4 * parameters + examples * scalarsPerExample), for: what, hint: hint)
}

/// The training loop every task shares (the shape of Keras `fit`): minibatch steps with the task's
/// loss, clipping and the optimizer, a budget of epochs, samples or steps, an evaluation point at
/// the end of every epoch (and every `evaluateEvery` steps), the non-finite guard, and a progress
/// record that lets a saved run continue bit for bit from any step.
public final class Trainer<Task: TrainingTask> {
    public let task: Task
    public let schedule: TrainingSchedule
    public let optimizer: Optimizer<Float>
    public private(set) var progress: TrainingProgress
    /// The processes training this model together (`.single` alone).
    public let group: ProcessGroup

    /// Starts training from fresh weights, or continues from a checkpoint's progress, optimizer
    /// step count and moments.
    ///
    /// In a group of several processes (`ProcessGroup.joinMPI()`), every rank builds the same
    /// trainer; this checks that they agree (settings, parameter shapes, data, progress) and throws
    /// on every rank if one differs, then gives every rank rank 0's weights and optimizer state.
    public init(task: Task, schedule: TrainingSchedule,
                resume: (progress: TrainingProgress, steps: Int, state: [String: Tensor<Float>])? = nil,
                group: ProcessGroup = .single) throws(RNNKitError) {
        try schedule.validate()
        self.task = task
        self.schedule = schedule
        self.group = group
        let optimizer = try Optimizer<Float>(schedule.optimizer)
        self.optimizer = optimizer
        if let resume {
            try optimizer.restore(stepCount: resume.steps, state: resume.state)
            optimizer.learningRate = resume.progress.learningRate
            progress = resume.progress
        } else {
            progress = TrainingProgress(epoch: 0, step: 0, samplesSeen: 0, generator: SeededGenerator(seed: schedule.seed &+ 1),
                                        learningRate: schedule.optimizer.learningRate, seconds: 0)
        }
        if group.usesMPI { try joinGroup() }
    }

    /// Checks that every rank was started the same way, then copies rank 0's weights and optimizer
    /// state to the others (one broadcast of one buffer).
    private func joinGroup() throws(RNNKitError) {
        var setup = Fingerprint()
        setup.add("\(schedule)")
        for (name, p) in task.parameters {
            setup.add(name)
            setup.add(p.value.shape)
        }
        setup.add("\(progress.epoch) \(progress.step) \(progress.samplesSeen) \(optimizer.stepCount)")
        let all = group.gather([setup.value, task.dataFingerprint()])
        for (rank, values) in all.enumerated() where values != all[0] {
            let what = values[0] != all[0][0] ? "model and training settings" : "training data"
            throw .invalidValue(argument: "distributed", expected: "every rank started with the same flags and data",
                                found: "rank \(rank)'s \(what) differ from rank 0's",
                                hint: "Start every rank with the same command line and the same data files (mpirun -np N rnnkit train ...).")
        }
        let parameters = task.parameters
        let stateKeys = optimizer.state.keys.sorted()
        var buffer: [Float] = parameters.flatMap { $0.variable.value.scalars } + stateKeys.flatMap { optimizer.state[$0]!.scalars }
        group.broadcast(&buffer)
        var offset = 0
        for (_, p) in parameters {
            let n = p.value.count
            p.value = Tensor(validShape: p.value.shape, scalars: Array(buffer[offset..<(offset + n)]))
            offset += n
        }
        var state = optimizer.state
        for key in stateKeys {
            let n = state[key]!.count
            state[key] = Tensor(validShape: state[key]!.shape, scalars: Array(buffer[offset..<(offset + n)]))
            offset += n
        }
        try optimizer.restore(stepCount: optimizer.stepCount, state: state)
    }

    /// Steps in a whole epoch.
    public var stepsPerEpoch: Int { max(task.steps(forExamples: task.examplesPerEpoch), 1) }
    /// Epochs in the whole run (the last may be partial under a samples or steps budget).
    public var totalEpochs: Int {
        if let steps = schedule.steps { return (steps + stepsPerEpoch - 1) / stepsPerEpoch }
        if let samples = schedule.samples { return (samples + task.examplesPerEpoch - 1) / max(task.examplesPerEpoch, 1) }
        return schedule.epochs
    }
    public var isFinished: Bool {
        if let steps = schedule.steps { return progress.step >= steps }
        if let samples = schedule.samples { return progress.samplesSeen >= samples }
        return progress.epoch >= schedule.epochs
    }

    /// Non-finite steps skipped in a row; a whole epoch's worth stops the run even when skipping.
    private var consecutiveSkips = 0
    /// The epoch in flight: its first step's generator, examples seen before it, its limit and step count.
    private var epochInFlight: (generatorAtStart: SeededGenerator, samplesAtStart: Int, limit: Int, steps: Int, done: Int)?

    /// Opens the next epoch, or rebuilds the one a saved run stopped in.
    private func openEpoch() {
        if let partial = progress.partialEpoch {
            var generator = partial.generatorAtStart
            task.beginEpoch(shuffling: &generator)  // the same order; the run's generator already stands past it
            // Checkpoints of RNNKit ≤ 0.1 counted the examples of a stopped epoch only at its end.
            let samplesAtStart = partial.samplesAtStart ?? progress.samplesSeen
            if partial.samplesAtStart == nil { progress.samplesSeen += partial.seen }
            let limit = epochLimit(samplesAtStart: samplesAtStart)
            epochInFlight = (partial.generatorAtStart, samplesAtStart, limit, task.steps(forExamples: limit),
                             partial.steps)
        } else {
            let generatorAtStart = progress.generator
            task.beginEpoch(shuffling: &progress.generator)
            let limit = epochLimit(samplesAtStart: progress.samplesSeen)
            epochInFlight = (generatorAtStart, progress.samplesSeen, limit, task.steps(forExamples: limit), 0)
        }
    }

    private func epochLimit(samplesAtStart: Int) -> Int {
        guard let samples = schedule.samples else { return task.examplesPerEpoch }
        return max(0, min(task.examplesPerEpoch, samples - samplesAtStart))
    }

    /// Trains to the next evaluation point (the end of the epoch, of the budget, or an
    /// `evaluateEvery` step), evaluates there and returns the stretch's metrics.
    ///
    /// `shouldStop` is asked after every step; when it says yes first, training stops there and this
    /// returns nil, with `progress.partialEpoch` holding what a checkpoint needs to continue exactly
    /// (the next call continues the stretch, its running sums included).
    public func runUntilEvaluation(stoppingWhen shouldStop: () -> Bool = { false }, onStep: (StepReport) -> Void = { _ in })
        throws -> TrainingMetrics? {
        if epochInFlight == nil { openEpoch() }
        let partial = progress.partialEpoch
        progress.partialEpoch = nil
        var lossSum = partial?.lossSum ?? 0, count = partial?.seen ?? 0, skipped = partial?.skipped ?? 0
        var sums = partial?.sums ?? [:]
        if let correct = partial?.correct, sums.isEmpty { sums["correct"] = Double(correct) }  // older checkpoints
        let secondsBefore = partial?.seconds ?? 0, countBefore = count
        let start = Date()
        let parameters = task.parameters
        var rate = optimizer.learningRate  // the stretch's last step's (warm-up changes it step by step)
        var stoppedEarly = false
        while true {
            let epoch = epochInFlight!
            if let warmup = schedule.warmupSteps {
                optimizer.learningRate = progress.learningRate * min(1, Double(progress.step + 1) / Double(warmup))
                rate = optimizer.learningRate
            }
            let batch: (value: Double, count: Int, sums: [String: Double], problem: String?)
            if group.usesMPI {
                // Dropout masks from a generator of the step and rank, so the run's generator (which
                // draws each epoch's order) stays the same on every rank.
                var dropout = SeededGenerator(seed: schedule.seed ^ (UInt64(progress.step) &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(group.rank + 1) << 48)
                let share = try task.trainingBatch(step: epoch.done, limit: epoch.limit, group: group, generator: &dropout)
                batch = try distributedStep(share, parameters: parameters, stopping: shouldStop())
            } else {
                guard let one = try task.trainingBatch(step: epoch.done, limit: epoch.limit, group: group, generator: &progress.generator)
                else { preconditionFailure("a task alone returned no batch") }
                let value = Double(one.loss.value.scalars[0])
                batch = (value, one.count, one.sums, try applyStep(loss: one.loss, value: value, parameters: parameters))
            }
            if let problem = batch.problem {
                consecutiveSkips += 1
                guard schedule.skipNonFiniteSteps, consecutiveSkips < max(epoch.steps, 2) else {
                    throw NonFiniteLoss(step: progress.step + 1, epoch: progress.epoch + 1, problem: problem, inARow: consecutiveSkips)
                }
                skipped += 1
                progress.skippedSteps = (progress.skippedSteps ?? 0) + 1
                task.endStep(applied: false)
            } else {
                consecutiveSkips = 0
                lossSum += batch.value * Double(batch.count)
                count += batch.count
                for (key, value) in batch.sums { sums[key, default: 0] += value }
                task.endStep(applied: true)
            }
            progress.step += 1
            progress.samplesSeen += batch.count  // skipped steps consumed their examples too
            epochInFlight!.done += 1
            let done = epochInFlight!.done
            onStep(StepReport(epoch: progress.epoch + 1, step: progress.step, stepInEpoch: done, stepsInEpoch: epoch.steps,
                              loss: lossSum / Double(max(count, 1)), figures: task.trainingFigures(sums: sums, count: count),
                              samplesPerSecond: Double(count - countBefore) / max(Date().timeIntervalSince(start), 1e-9)))
            if done >= epoch.steps {
                progress.epoch += 1
                epochInFlight = nil
                task.endEpoch()
                if let decay = schedule.learningRateDecay {
                    progress.learningRate *= decay
                    optimizer.learningRate = progress.learningRate
                }
            }
            if isFinished || epochInFlight == nil || schedule.evaluateEvery.map({ progress.step % $0 == 0 }) == true { break }
            if stopRequested(shouldStop) {
                stoppedEarly = true
                break
            }
        }
        let elapsed = Date().timeIntervalSince(start)
        progress.seconds += elapsed
        let seconds = secondsBefore + elapsed
        if let epoch = epochInFlight {
            // Mid-epoch (Ctrl-C, or an evaluateEvery point): what resuming needs to rebuild the epoch.
            progress.partialEpoch = TrainingProgress.PartialEpoch(
                generatorAtStart: epoch.generatorAtStart, steps: epoch.done, samplesAtStart: epoch.samplesAtStart,
                lossSum: stoppedEarly ? lossSum : 0, sums: stoppedEarly && !sums.isEmpty ? sums : nil, seen: stoppedEarly ? count : 0,
                seconds: stoppedEarly ? seconds : 0, skipped: stoppedEarly && skipped > 0 ? skipped : nil)
        }
        if stoppedEarly { return nil }
        let validation = try task.validate(group: group)
        let isBest = validation.map { $0.loss < (progress.bestValidationLoss ?? .infinity) } ?? true
        if isBest, let validation { progress.bestValidationLoss = validation.loss }
        var figures = task.trainingFigures(sums: sums, count: count)
        for (key, value) in validation?.figures ?? [:] { figures[key] = value }
        figures[task.throughputUnit + "PerSecond"] = Double(count) / max(seconds, 1e-9)
        return TrainingMetrics(epoch: progress.epoch, step: progress.step, trainLoss: lossSum / Double(max(count, 1)),
                               validationLoss: validation?.loss, seconds: seconds, learningRate: rate, isBest: isBest,
                               skippedSteps: skipped > 0 ? skipped : nil, figures: figures)
    }

    /// One optimizer step, unless the loss or a gradient is not finite: then the weights stay as they
    /// were and the problem is returned.
    private func applyStep(loss: Variable<Float>, value: Double, parameters: [(name: String, variable: Variable<Float>)]) throws
        -> String? {
        guard value.isFinite else { return "the loss" }
        for (_, p) in parameters { p.zeroGrad() }
        try loss.backward()
        for (name, p) in parameters {
            if let g = p.grad, !g.scalars.allSatisfy(\.isFinite) { return "the gradient of \(name)" }
        }
        if let clipNorm = schedule.clipNorm { try clipGradientsByGlobalNorm(parameters, maxNorm: clipNorm) }
        optimizer.step(parameters)
        return nil
    }

    /// Whether every rank stops after the last step: their stop requests are summed with the step's
    /// gradients, so all ranks stop at the same step. Alone, `shouldStop()`.
    private func stopRequested(_ shouldStop: () -> Bool) -> Bool {
        group.usesMPI ? stopAgreed : shouldStop()
    }
    private var stopAgreed = false
    /// The fused buffer of a distributed step, kept between steps.
    private var reduction: [Float] = []

    /// One step of a distributed run: this rank's gradient of its share, weighted by the share's
    /// loss weight, goes into one buffer with the loss, counts, figure sums and stop request; one
    /// allreduce adds the buffers of every rank; dividing by the summed weight gives every rank the
    /// gradient of the global batch's mean (the same as one process with that batch, up to the
    /// order of the sums). Then the same checks, clipping and optimizer step run on every rank.
    private func distributedStep(_ share: TrainingBatch?, parameters: [(name: String, variable: Variable<Float>)], stopping: Bool)
        throws -> (value: Double, count: Int, sums: [String: Double], problem: String?) {
        let sizes = parameters.map { $0.variable.value.count }
        let gradients = sizes.reduce(0, +), keys = task.sumKeys
        // [weighted gradients | has-gradient flag per parameter | weight, weight × loss, count, not finite, stop | sums]
        let tail = gradients + parameters.count
        if reduction.count != tail + 5 + keys.count { reduction = [Float](repeating: 0, count: tail + 5 + keys.count) }
        for k in reduction.indices { reduction[k] = 0 }
        for (_, p) in parameters { p.zeroGrad() }
        if let share {
            let value = share.loss.value.scalars[0], weight = Float(share.lossWeight)
            reduction[tail] = weight
            reduction[tail + 2] = Float(share.count)
            for (k, key) in keys.enumerated() { reduction[tail + 5 + k] = Float(share.sums[key] ?? 0) }
            if value.isFinite {
                reduction[tail + 1] = weight * value
                try share.loss.backward()
                var offset = 0
                for (i, (_, p)) in parameters.enumerated() {
                    if let g = p.grad {
                        g.withUnsafeBufferPointer { g in for j in 0..<sizes[i] { reduction[offset + j] = weight * g[j] } }
                        reduction[gradients + i] = 1
                    }
                    offset += sizes[i]
                }
            } else {
                reduction[tail + 3] = 1
            }
        }
        reduction[tail + 4] = stopping ? 1 : 0
        group.sum(&reduction)
        stopAgreed = reduction[tail + 4] > 0
        let weight = reduction[tail], count = Int(reduction[tail + 2].rounded())
        let value = Double(reduction[tail + 1] / max(weight, .leastNormalMagnitude))
        var sums: [String: Double] = [:]
        for (k, key) in keys.enumerated() { sums[key] = Double(reduction[tail + 5 + k]) }
        guard reduction[tail + 3] == 0, value.isFinite else { return (.nan, count, sums, "the loss") }
        var offset = 0
        for (i, (name, p)) in parameters.enumerated() {
            defer { offset += sizes[i] }
            guard reduction[gradients + i] > 0 else { continue }
            let g = reduction[offset..<(offset + sizes[i])].map { $0 / weight }
            guard g.allSatisfy(\.isFinite) else {
                for (_, p) in parameters { p.zeroGrad() }
                return (value, count, sums, "the gradient of \(name)")
            }
            p.grad = Tensor(validShape: p.value.shape, scalars: g)
        }
        if let clipNorm = schedule.clipNorm { try clipGradientsByGlobalNorm(parameters, maxNorm: clipNorm) }
        optimizer.step(parameters)
        return (value, count, sums, nil)
    }
}

/// How `fit` went.
public enum FitOutcome: Sendable {
    /// The budget is spent.
    case finished
    /// `shouldStop` said yes (Ctrl-C); the run was saved where it stopped.
    case stopped
}

extension Trainer {
    /// Trains to the end of the budget (the shape of Keras `fit`): at every evaluation point the
    /// metrics line is added and the run is saved, and a stop request (Ctrl-C) saves where the run
    /// stands and returns `.stopped`.
    ///
    /// Runs without validation data whose evaluation points come fast (seed 001's one-step epochs)
    /// save at the end and at most every 30 seconds instead of at every point.
    ///
    /// - Parameters:
    ///   - metrics: the run's metrics lines so far (a resumed run's); each evaluation point adds one.
    ///   - title: the title of curves.svg.
    ///   - save: writes the checkpoint folder from the metrics lines and the curves.svg text.
    ///   - shouldStop: asked after every step.
    ///   - onStep: after every step, for progress displays.
    ///   - onEvaluation: after every evaluation point, before the save.
    public func fit(metrics: inout [String], title: String, save: (_ metrics: [String], _ curves: String) throws -> Void,
                    shouldStop: () -> Bool = { Interruption.isRequested }, onStep: (StepReport) -> Void = { _ in },
                    onEvaluation: (TrainingMetrics) -> Void = { _ in }) throws -> FitOutcome {
        var decoded = metrics.compactMap { try? JSONDecoder.rnnkit.decode(TrainingMetrics.self, from: Data($0.utf8)) }
        var lastSave = Date()
        func saveNow() throws {
            lastSave = Date()
            try saveOnPrimary { try save(metrics, curves(decoded, title: title)) }
        }
        while !isFinished {
            guard let m = try runUntilEvaluation(stoppingWhen: shouldStop, onStep: onStep) else {
                try saveNow()
                return .stopped
            }
            decoded.append(m)
            metrics.append(String(decoding: try JSONEncoder.rnnkit().encode(m), as: UTF8.self))
            onEvaluation(m)
            // Ranks decide together: the time since the last save is rank 0's.
            var due = [m.validationLoss != nil || isFinished || stopRequested(shouldStop) || Date().timeIntervalSince(lastSave) > 30 ? 1.0 : 0]
            group.broadcast(&due)
            if due[0] > 0 {
                try saveNow()
                if stopRequested(shouldStop) && !isFinished { return .stopped }
            }
        }
        return .finished
    }

    /// Runs `save` on rank 0 only, between barriers, after the task's collective preparation; every
    /// rank throws if rank 0's save failed, so none trains on past a checkpoint that was not written.
    public func saveOnPrimary(_ save: () throws -> Void) throws {
        try task.prepareSave(group: group)
        guard group.usesMPI else { return try save() }
        group.barrier()
        var failure: (any Error)?
        if group.isPrimary {
            do { try save() } catch { failure = error }
        }
        var failed: [Float] = [failure == nil ? 0 : 1]
        group.sum(&failed)
        if let failure { throw failure }
        if failed[0] > 0 {
            throw RNNKitError.invalidValue(argument: "checkpoint", expected: "rank 0 to save the checkpoint", found: "its save failed",
                                           hint: "Rank 0 printed why; fix that and resume.")
        }
    }

    /// curves.svg: the loss, and the task's first figure, per evaluation point, train and validation.
    public func curves(_ metrics: [TrainingMetrics], title: String) -> String {
        var panels: [(name: String, series: [(label: String, values: [Double?])])] = [
            ("loss", [("train", metrics.map { $0.trainLoss }), ("validation", metrics.map { $0.validationLoss })]),
        ]
        if let figure = task.figures.first {
            let series = [("train", metrics.map { $0["train" + figure.key] }), ("validation", metrics.map { $0["validation" + figure.key] })]
            panels.append((figure.name, series.filter { $0.1.contains { $0 != nil } }))
        }
        let pointsAreEpochs = schedule.evaluateEvery == nil && metrics.allSatisfy { $0.epoch > 0 }
        return curvesSVG(title: title, xLabel: pointsAreEpochs ? "epoch" : "evaluation", panels: panels)
    }
}
