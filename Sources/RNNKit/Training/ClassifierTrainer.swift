import Foundation

/// What one epoch measured; one line of `metrics.jsonl`.
public struct EpochMetrics: Codable, Equatable, Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var validationLoss: Double?
    public var validationAccuracy: Double?
    public var samplesPerSecond: Double
    public var seconds: Double
    public var learningRate: Double
    /// Steps skipped because their loss or gradients were not finite (`skipNonFiniteSteps`); nil when none were.
    public var skippedSteps: Int?
}

/// Loss, accuracy and confusion matrix of a model on a data set.
public struct Evaluation: Sendable {
    public var loss: Double
    public var accuracy: Double
    /// `confusion[true][predicted]` counts.
    public var confusion: [[Int]]
}

/// A training step in flight, for progress displays.
public struct StepReport: Sendable {
    public var epoch: Int
    public var step: Int
    public var stepsInEpoch: Int
    public var loss: Double
    public var accuracy: Double
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

/// One optimizer step, unless the loss or a gradient is not finite: then the weights stay as they
/// were and the problem is returned.
func trainingStep(loss: Variable<Float>, value: Double, parameters: [(name: String, variable: Variable<Float>)],
                  optimizer: Optimizer<Float>, clipNorm: Double?) throws -> String? {
    guard value.isFinite else { return "the loss" }
    for (_, p) in parameters { p.zeroGrad() }
    try loss.backward()
    for (name, p) in parameters {
        if let g = p.grad, !g.scalars.allSatisfy(\.isFinite) { return "the gradient of \(name)" }
    }
    if let clipNorm { try clipGradientsByGlobalNorm(parameters, maxNorm: clipNorm) }
    optimizer.step(parameters)
    return nil
}

/// Trains a `SequenceClassifier` on image rows with minibatches in a seeded random order.
public final class ClassifierTrainer {
    public let model: SequenceClassifier<Float>
    public let optimizer: Optimizer<Float>
    public let options: TrainingOptions
    public private(set) var progress: TrainingProgress
    public let train: ImageClassificationData
    public let validation: ImageClassificationData

    /// Starts training from fresh weights or continues from a checkpoint's progress.
    public init(model: SequenceClassifier<Float>, options: TrainingOptions, train: ImageClassificationData,
                validation: ImageClassificationData, resume: (progress: TrainingProgress, steps: Int, state: [String: Tensor<Float>])? = nil)
        throws(RNNKitError) {
        try options.validate()
        let c = model.configuration
        try requireTrainingMemory(parameters: c.parameterCount, examples: Double(options.batchSize) * Double(train.rows),
                                  scalarsPerExample: c.recurrent.trainingScalarsPerStep + 2 * Double(train.columns + (c.projection ?? 0)),
                                  for: "training with batch \(options.batchSize) (\(train.rows) steps each)",
                                  hint: "Lower --batch, or the model's size.")
        self.model = model
        self.options = options
        self.train = train
        self.validation = validation
        (optimizer, progress) = try startOrResume(options.optimizer, seed: options.seed, resume: resume)
    }

    /// Non-finite steps skipped in a row; a whole epoch's worth stops the run even when skipping.
    private var consecutiveSkips = 0

    /// Examples in the whole run: `samples`, or `epochs` passes over the training set.
    public var totalSamples: Int { options.samples ?? options.epochs * train.count }
    /// Epochs in the whole run (the last may be partial under a sample budget).
    public var totalEpochs: Int { (totalSamples + train.count - 1) / max(train.count, 1) }
    public var isFinished: Bool { progress.samplesSeen >= totalSamples }

    /// Runs one epoch (or what remains of the sample budget) and evaluates on the validation set.
    ///
    /// `shouldStop` is asked after every step; when it says yes before the epoch's last step, the
    /// epoch stops there and this returns nil, with `progress.partialEpoch` holding what a saved
    /// checkpoint needs to finish the epoch exactly (the next call continues it).
    public func runEpoch(stoppingWhen shouldStop: () -> Bool = { false }, onStep: (StepReport) -> Void = { _ in })
        throws -> EpochMetrics? {
        let epoch = progress.epoch + 1
        let examples = min(train.count, totalSamples - progress.samplesSeen)
        let partial = progress.partialEpoch
        var shuffler = partial?.generatorAtStart ?? progress.generator
        let generatorAtStart = shuffler
        var order = Array(0..<train.count)
        for i in stride(from: order.count - 1, to: 0, by: -1) {  // Fisher–Yates with the run's generator
            order.swapAt(i, Int(shuffler.next() % UInt64(i + 1)))
        }
        if partial == nil { progress.generator = shuffler }  // else it already stands where the epoch stopped
        progress.partialEpoch = nil
        let batch = options.batchSize
        let steps = (examples + batch - 1) / batch
        let parameters = model.namedParameters
        var lossSum = partial?.lossSum ?? 0, correct = partial?.correct ?? 0, seen = partial?.seen ?? 0
        var skipped = partial?.skipped ?? 0
        let seenBefore = seen, secondsBefore = partial?.seconds ?? 0
        let start = Date()
        for s in (partial?.steps ?? 0)..<steps {
            let indices = order[(s * batch)..<min((s + 1) * batch, examples)]
            let (images, labels) = train.batch(indices)
            let logits = try model(Variable(images), training: &progress.generator)
            let loss = try Loss.softmaxCrossEntropy(logits: logits, labels: labels)
            let value = Double(loss.value.scalars[0])
            if let problem = try trainingStep(loss: loss, value: value, parameters: parameters, optimizer: optimizer,
                                              clipNorm: options.clipNorm) {
                consecutiveSkips += 1
                guard options.skipNonFiniteSteps == true, consecutiveSkips < max(steps, 2) else {
                    throw NonFiniteLoss(step: progress.step + 1, epoch: epoch, problem: problem, inARow: consecutiveSkips)
                }
                skipped += 1
                progress.skippedSteps = (progress.skippedSteps ?? 0) + 1
            } else {
                consecutiveSkips = 0
                lossSum += value * Double(labels.count)
                correct += zip(logits.value.argmaxRows(), labels).filter { $0 == $1 }.count
                seen += labels.count
            }
            progress.step += 1
            onStep(StepReport(epoch: epoch, step: s + 1, stepsInEpoch: steps, loss: lossSum / Double(max(seen, 1)),
                              accuracy: Double(correct) / Double(max(seen, 1)),
                              samplesPerSecond: Double(seen - seenBefore) / max(Date().timeIntervalSince(start), 1e-9)))
            if s + 1 < steps && shouldStop() {
                let elapsed = Date().timeIntervalSince(start)
                progress.seconds += elapsed
                progress.partialEpoch = TrainingProgress.PartialEpoch(
                    generatorAtStart: generatorAtStart, steps: s + 1, lossSum: lossSum, correct: correct, seen: seen,
                    seconds: secondsBefore + elapsed, skipped: skipped > 0 ? skipped : nil)
                return nil
            }
        }
        let elapsed = Date().timeIntervalSince(start), seconds = secondsBefore + elapsed
        progress.epoch = epoch
        progress.samplesSeen += examples  // skipped steps consumed their examples too
        progress.seconds += elapsed
        let rate = optimizer.learningRate
        if let decay = options.learningRateDecay {
            optimizer.learningRate *= decay
            progress.learningRate = optimizer.learningRate
        }
        let v = validation.count > 0 ? try evaluate(model, on: validation) : nil
        return EpochMetrics(epoch: epoch, trainLoss: lossSum / Double(max(seen, 1)), trainAccuracy: Double(correct) / Double(max(seen, 1)),
                            validationLoss: v?.loss, validationAccuracy: v?.accuracy,
                            samplesPerSecond: Double(seen) / max(seconds, 1e-9), seconds: seconds, learningRate: rate,
                            skippedSteps: skipped > 0 ? skipped : nil)
    }
}

/// Evaluates a classifier in batches (inference path: no dropout, nothing recorded).
public func evaluate(_ model: SequenceClassifier<Float>, on data: ImageClassificationData, batchSize: Int = 500)
    throws(RNNKitError) -> Evaluation {
    let classes = model.configuration.classes
    var confusion = Array(repeating: Array(repeating: 0, count: classes), count: classes)
    var lossSum = 0.0, correct = 0
    var start = 0
    while start < data.count {
        let (images, labels) = data.batch(start..<min(start + batchSize, data.count))
        let logits = try model.logits(images)
        lossSum += Double(try Loss.softmaxCrossEntropy(logits: Variable(logits), labels: labels).value.scalars[0]) * Double(labels.count)
        for (p, y) in zip(logits.argmaxRows(), labels) {
            confusion[y][p] += 1
            if p == y { correct += 1 }
        }
        start += batchSize
    }
    let n = Double(max(data.count, 1))
    return Evaluation(loss: lossSum / n, accuracy: Double(correct) / n, confusion: confusion)
}
