import Foundation

/// How to train a character model; stored in `config.json`.
public struct CharLMTrainingOptions: Codable, Equatable, Sendable {
    /// Passes over the training text (ignored when `steps` is set).
    public var epochs: Int = 10
    /// A budget of optimizer steps instead of epochs (the seed's 3,000 iterations; fixed budgets for comparisons).
    public var steps: Int?
    /// Parallel streams through the text, B.
    public var batchSize: Int = 32
    /// Steps of truncated backpropagation through time per batch, T.
    public var sequenceLength: Int = 64
    public var optimizer = OptimizerConfiguration(kind: .adam, learningRate: 2e-3)
    public var clipNorm: Double? = 5
    /// The last fraction of the text is held out for validation.
    public var validationFraction: Double = 0.1
    /// Also evaluate and save every this many steps (for long epochs).
    public var evaluateEvery: Int?
    public var seed: UInt64 = 0
    /// How the final dense layer's weight is drawn (nil: PyTorch's default).
    public var fcWeightInitializer: Initializer?
    public var fcBiasInitializer: Initializer?
    /// Skip a step whose loss or gradients are NaN or infinite instead of stopping; nil means no.
    public var skipNonFiniteSteps: Bool?

    public init() {}

    public func validate() throws(RNNKitError) {
        try requirePositive(epochs, "epochs")
        if let steps { try requirePositive(steps, "steps") }
        try requirePositive(batchSize, "batch")
        try requirePositive(sequenceLength, "seq-len")
        try optimizer.validate()
        if let evaluateEvery { try requirePositive(evaluateEvery, "eval-every") }
        if let clipNorm, !(clipNorm > 0) {
            throw .invalidValue(argument: "clip", expected: "a positive norm", found: "\(clipNorm)", hint: "Try --clip 5.")
        }
        guard validationFraction >= 0 && validationFraction < 1 else {
            throw .invalidValue(argument: "validation", expected: "a fraction in [0, 1)", found: "\(validationFraction)",
                                hint: "0.1 holds out the last tenth of the text.")
        }
    }
}

/// One evaluation point of a language-model run; a line of `metrics.jsonl`.
public struct CharLMMetrics: Codable, Equatable, Sendable {
    public var epoch: Int
    public var step: Int
    /// Mean cross-entropy per predicted character since the last evaluation, in nats.
    public var trainLoss: Double
    public var validationLoss: Double?
    /// `validationLoss / ln 2`.
    public var validationBitsPerCharacter: Double?
    public var charactersPerSecond: Double
    public var seconds: Double
    public var isBest: Bool
    /// Steps skipped since the last evaluation because their loss or gradients were not finite
    /// (`skipNonFiniteSteps`); nil when none were.
    public var skippedSteps: Int?
}

/// Trains a `CharLanguageModel` with truncated BPTT over B parallel streams of the text.
///
/// The text (`N` ids) is cut into B contiguous streams of `L = (N − 1) / B` predictions; batch w
/// reads steps `w·T ..< (w+1)·T` of every stream, so sample b of one batch continues sample b of the
/// previous one. The final state of a batch is the next batch's initial state, cut from the
/// gradient (a constant), and is reset to zero at each epoch.
public final class CharLMTrainer {
    public let model: CharLanguageModel<Float>
    public let optimizer: Optimizer<Float>
    public let options: CharLMTrainingOptions
    public private(set) var progress: TrainingProgress
    public let train: [Int]
    public let validation: [Int]

    public init(model: CharLanguageModel<Float>, options: CharLMTrainingOptions, train: [Int], validation: [Int],
                resume: (progress: TrainingProgress, steps: Int, state: [String: Tensor<Float>])? = nil) throws(RNNKitError) {
        try options.validate()
        guard train.count >= options.batchSize + 1 else {
            throw .invalidValue(argument: "text", expected: "at least batch + 1 = \(options.batchSize + 1) training characters",
                                found: "\(train.count)", hint: "Use a longer text or a smaller --batch.")
        }
        let c = model.configuration
        try requireTrainingMemory(parameters: c.parameterCount, examples: Double(options.batchSize) * Double(options.sequenceLength),
                                  scalarsPerExample: c.recurrent.trainingScalarsPerStep + 2 * Double(c.recurrent.inputSize)
                                      + 3 * Double(c.vocabulary.count),  // logits, probabilities, their gradient
                                  for: "training with batch \(options.batchSize) × seq-len \(options.sequenceLength)",
                                  hint: "Lower --batch or --seq-len, or the model's size.")
        self.model = model
        self.options = options
        self.train = train
        self.validation = validation
        (optimizer, progress) = try startOrResume(options.optimizer, seed: options.seed, resume: resume)
    }

    /// Predictions per stream, L.
    public var streamLength: Int { (train.count - 1) / options.batchSize }
    /// Batches per epoch: ⌈L / T⌉ (the last may be shorter).
    public var stepsPerEpoch: Int { (streamLength + options.sequenceLength - 1) / options.sequenceLength }
    public var totalSteps: Int { options.steps ?? options.epochs * stepsPerEpoch }
    public var isFinished: Bool { progress.step >= totalSteps }

    /// Inputs and targets of batch `w` of `streams` streams of length `length` over `ids`: `(B, T)` each.
    public static func window(_ ids: [Int], streams: Int, length: Int, window w: Int, steps: Int) -> (x: [Int], y: [Int], t: Int) {
        let start = w * steps
        let t = min(steps, length - start)
        var x: [Int] = [], y: [Int] = []
        x.reserveCapacity(streams * t)
        y.reserveCapacity(streams * t)
        for b in 0..<streams {
            let base = b * length + start
            x += ids[base..<(base + t)]
            y += ids[(base + 1)...(base + t)]
        }
        return (x, y, t)
    }

    /// What a step reports to a progress display (and the seed's prediction printout).
    public struct StepReport {
        public var epoch: Int
        public var step: Int
        public var stepInEpoch: Int
        public var stepsInEpoch: Int
        public var loss: Double
        public var charactersPerSecond: Double
        /// The argmax prediction of stream 0 for this batch.
        public var prediction: () -> [Int]
    }

    /// Trains until the end of the epoch, the step budget, or the next `evaluateEvery` point, and
    /// evaluates there. Resumes mid-epoch where the last call stopped.
    ///
    /// `shouldStop` is asked after every step; when it says yes first, training stops there without
    /// evaluating and this returns nil. The trainer's state (progress, `carriedState`) is then what
    /// a checkpoint needs to continue exactly; the steps since the last evaluation count toward no
    /// metrics line.
    public func runUntilEvaluation(stoppingWhen shouldStop: () -> Bool = { false }, onStep: (StepReport) -> Void = { _ in })
        throws -> CharLMMetrics? {
        let (B, T) = (options.batchSize, options.sequenceLength)
        let parameters = model.namedParameters
        var lossSum = 0.0, predicted = 0, skipped = 0
        let start = Date()
        var stepInEpoch = progress.step % stepsPerEpoch
        var state: RecurrentState<Variable<Float>>? = carried
        repeat {
            if stepInEpoch == 0 { state = nil }  // a new epoch starts every stream from zero
            let (x, y, t) = Self.window(train, streams: B, length: streamLength, window: stepInEpoch, steps: T)
            var generator: SeededGenerator? = progress.generator
            let (logits, next) = try model(ids: x, batch: B, steps: t, state: state, training: &generator)
            progress.generator = generator!
            let loss = try Loss.sequenceLoss(logits: logits, targets: y)
            let value = Double(loss.value.scalars[0])
            if let problem = try trainingStep(loss: loss, value: value, parameters: parameters, optimizer: optimizer,
                                              clipNorm: options.clipNorm) {
                consecutiveSkips += 1
                guard options.skipNonFiniteSteps == true, consecutiveSkips < max(stepsPerEpoch, 2) else {
                    throw NonFiniteLoss(step: progress.step + 1, epoch: progress.epoch + 1, problem: problem, inARow: consecutiveSkips)
                }
                skipped += 1
                progress.skippedSteps = (progress.skippedSteps ?? 0) + 1
                state = nil  // the streams restart from zero rather than from a state that may be poisoned
            } else {
                consecutiveSkips = 0
                // Truncated BPTT: the next batch starts from this state's values, not its history.
                state = RecurrentState(h: Variable(next.h.value), c: next.c.map { Variable($0.value) })
                lossSum += value * Double(B * t)
                predicted += B * t
            }
            progress.step += 1
            progress.samplesSeen += B * t
            stepInEpoch += 1
            let logitsValue = logits.value
            onStep(StepReport(epoch: progress.epoch + 1, step: progress.step, stepInEpoch: stepInEpoch, stepsInEpoch: stepsPerEpoch,
                              loss: lossSum / Double(predicted),
                              charactersPerSecond: Double(predicted) / max(Date().timeIntervalSince(start), 1e-9),
                              prediction: { Array(logitsValue.argmaxRows().prefix(t)) }))
            if stepInEpoch == stepsPerEpoch {
                stepInEpoch = 0
                progress.epoch += 1
            }
            if shouldStop() { break }
        } while !isFinished && stepInEpoch != 0 && !(options.evaluateEvery.map { progress.step % $0 == 0 } ?? false)
        carried = stepInEpoch == 0 ? nil : state
        let seconds = Date().timeIntervalSince(start)
        progress.seconds += seconds
        let evaluationPoint = isFinished || stepInEpoch == 0 || (options.evaluateEvery.map { progress.step % $0 == 0 } ?? false)
        guard evaluationPoint else { return nil }  // stopped by shouldStop between evaluation points
        let validationLoss = validation.count > 1 ? try evaluate(validation) : nil
        let isBest = validationLoss.map { $0 < (progress.bestValidationLoss ?? .infinity) } ?? true
        if isBest, let validationLoss { progress.bestValidationLoss = validationLoss }
        return CharLMMetrics(epoch: progress.epoch, step: progress.step, trainLoss: lossSum / Double(max(predicted, 1)),
                             validationLoss: validationLoss, validationBitsPerCharacter: validationLoss.map { $0 / Foundation.log(2) },
                             charactersPerSecond: Double(predicted) / max(seconds, 1e-9), seconds: seconds, isBest: isBest,
                             skippedSteps: skipped > 0 ? skipped : nil)
    }

    /// Non-finite steps skipped in a row; an epoch's worth stops the run even when skipping.
    private var consecutiveSkips = 0

    /// The state carried into the next batch when training stopped mid-epoch.
    private var carried: RecurrentState<Variable<Float>>?

    /// The carried state as tensors `(L, B, H)`, saved with a checkpoint taken mid-epoch so a resumed
    /// run continues every stream where it stopped.
    public var carriedState: RecurrentState<Tensor<Float>>? {
        get { carried.map { RecurrentState(h: $0.h.value, c: $0.c?.value) } }
        set { carried = newValue.map { RecurrentState(h: Variable($0.h), c: $0.c.map { Variable($0) }) } }
    }

    /// Mean cross-entropy per predicted character of `ids` (nats), run as B streams with carried state.
    public func evaluate(_ ids: [Int]) throws(RNNKitError) -> Double {
        try CharLMTrainer.evaluate(model, ids, streams: options.batchSize, steps: options.sequenceLength)
    }

    /// Mean cross-entropy per predicted character (nats) of `ids` under `model`, reading `streams`
    /// contiguous streams `steps` at a time with the state carried (inference path).
    public static func evaluate(_ model: CharLanguageModel<Float>, _ ids: [Int], streams: Int, steps: Int) throws(RNNKitError) -> Double {
        let B = max(1, min(streams, ids.count - 1))
        let length = (ids.count - 1) / B
        guard length > 0 else { return .nan }
        var state: RecurrentState<Tensor<Float>>? = nil
        var total = 0.0
        for w in 0..<((length + steps - 1) / steps) {
            let (x, y, t) = window(ids, streams: B, length: length, window: w, steps: steps)
            let (logits, next) = try model.logits(ids: x, batch: B, steps: t, state: state)
            state = next
            total += Double(try Loss.sequenceLoss(logits: Variable(logits), targets: y).value.scalars[0]) * Double(B * t)
        }
        return total / Double(B * length)
    }
}
