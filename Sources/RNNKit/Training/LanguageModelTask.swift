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
    /// Raise the learning rate linearly over the first this many steps (step s at (s+1)/N of it).
    public var warmupSteps: Int?

    public init() {}

    public func validate() throws(RNNKitError) {
        try requirePositive(epochs, "epochs")
        if let steps { try requirePositive(steps, "steps") }
        try requirePositive(batchSize, "batch")
        try requirePositive(sequenceLength, "seq-len")
        try optimizer.validate()
        if let warmupSteps { try requirePositive(warmupSteps, "warmup") }
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

extension CharLMTrainingOptions: StepTrainingOptions {}

/// Trains a `CharLanguageModel` with truncated BPTT over B parallel streams of the text.
///
/// The text (`N` ids) is cut into B contiguous streams of `L = (N − 1) / B` predictions; batch w
/// reads steps `w·T ..< (w+1)·T` of every stream, so sample b of one batch continues sample b of the
/// previous one. The final state of a batch is the next batch's initial state, cut from the
/// gradient (a constant), and is reset to zero at each epoch.
public final class LanguageModelTask: TrainingTask {
    public let model: CharLanguageModel<Float>
    public let train: [Int]
    public let validation: [Int]
    /// Parallel streams B and steps per batch T.
    public let batchSize: Int, sequenceLength: Int

    public init(model: CharLanguageModel<Float>, train: [Int], validation: [Int], batchSize: Int, sequenceLength: Int)
        throws(RNNKitError) {
        try requirePositive(batchSize, "batch")
        try requirePositive(sequenceLength, "seq-len")
        guard train.count >= batchSize + 1 else {
            throw .invalidValue(argument: "text", expected: "at least batch + 1 = \(batchSize + 1) training characters",
                                found: "\(train.count)", hint: "Use a longer text or a smaller --batch.")
        }
        let c = model.configuration
        try requireTrainingMemory(parameters: c.parameterCount, examples: Double(batchSize) * Double(sequenceLength),
                                  scalarsPerExample: c.recurrent.trainingScalarsPerStep + 2 * Double(c.recurrent.inputSize)
                                      + 3 * Double(c.vocabulary.count),  // logits, probabilities, their gradient
                                  for: "training with batch \(batchSize) × seq-len \(sequenceLength)",
                                  hint: "Lower --batch or --seq-len, or the model's size.")
        self.model = model
        self.train = train
        self.validation = validation
        self.batchSize = batchSize
        self.sequenceLength = sequenceLength
    }

    /// Predictions per stream, L.
    public var streamLength: Int { (train.count - 1) / batchSize }
    /// Batches per epoch: ⌈L / T⌉ (the last may be shorter).
    public var stepsPerEpoch: Int { (streamLength + sequenceLength - 1) / sequenceLength }

    public var parameters: [(name: String, variable: Variable<Float>)] { model.namedParameters }
    /// An epoch predicts every character of every stream once; a budget counts steps, not these.
    public var examplesPerEpoch: Int { batchSize * streamLength }
    public func steps(forExamples examples: Int) -> Int { stepsPerEpoch }
    public func beginEpoch(shuffling generator: inout SeededGenerator) {}

    /// The state carried into the next batch.
    private var carried: RecurrentState<Variable<Float>>?
    /// The state the last batch ended in, and its logits.
    private var next: RecurrentState<Variable<Float>>?
    private var lastLogits: (logits: Tensor<Float>, steps: Int)?

    /// The streams this process reads: all of them alone, every size-th from its rank in a group.
    private var streams: [Int] = []

    public func trainingBatch(step: Int, limit: Int, group: ProcessGroup, generator: inout SeededGenerator) throws -> TrainingBatch? {
        let mine = Array(group.share(0..<batchSize))
        if mine != streams {  // the first step of this process: cut its streams from a full carried state
            if let full = carried, group.size > 1 { carried = Self.select(full, streams: mine) }
            streams = mine
        }
        guard !mine.isEmpty else { return nil }
        let (x, y, t) = Self.window(train, streams: batchSize, length: streamLength, window: step, steps: sequenceLength,
                                    only: mine.count == batchSize ? nil : mine)
        var g: SeededGenerator? = generator
        let (logits, state) = try model(ids: x, batch: mine.count, steps: t, state: carried, training: &g)
        generator = g!
        next = state
        lastLogits = (logits.value, t)
        return TrainingBatch(loss: try Loss.sequenceLoss(logits: logits, targets: y), count: mine.count * t)
    }

    /// Streams `indices` (of dimension 1) of a state `(L, B, H)`.
    private static func select(_ state: RecurrentState<Variable<Float>>, streams indices: [Int]) -> RecurrentState<Variable<Float>> {
        func pick(_ t: Tensor<Float>) -> Tensor<Float> {
            let (L, B, H) = (t.shape[0], t.shape[1], t.shape[2])
            var out: [Float] = []
            out.reserveCapacity(L * indices.count * H)
            for l in 0..<L { for b in indices { out += t.scalars[((l * B + b) * H)..<((l * B + b + 1) * H)] } }
            return Tensor(validShape: [L, indices.count, H], scalars: out)
        }
        return RecurrentState(h: Variable(pick(state.h.value)), c: state.c.map { Variable(pick($0.value)) })
    }

    /// Every rank's carried streams put back together, in stream order, for rank 0's checkpoint.
    private var gathered: RecurrentState<Tensor<Float>>?

    /// In a group, gathers the carried state of every rank's streams so rank 0 saves the whole of it.
    public func prepareSave(group: ProcessGroup) throws {
        gathered = nil
        guard group.size > 1, let local = carriedState else { return }
        let (L, H) = (local.h.shape[0], local.h.shape[2])
        let width = (batchSize + group.size - 1) / group.size  // streams per rank, padded to the most any has
        func gather(_ t: Tensor<Float>) -> Tensor<Float> {
            var padded = t.scalars + [Float](repeating: 0, count: L * width * H - t.count)
            let all = group.gather(padded)
            padded = [Float](repeating: 0, count: L * batchSize * H)
            for (rank, values) in all.enumerated() {
                for (k, b) in stride(from: rank, to: batchSize, by: group.size).enumerated() {
                    for l in 0..<L {
                        let mineCount = (batchSize - rank + group.size - 1) / group.size
                        let source = (l * mineCount + k) * H
                        padded.replaceSubrange(((l * batchSize + b) * H)..<((l * batchSize + b + 1) * H), with: values[source..<(source + H)])
                    }
                }
            }
            return Tensor(validShape: [L, batchSize, H], scalars: padded)
        }
        gathered = RecurrentState(h: gather(local.h), c: local.c.map(gather))
    }

    public func dataFingerprint() -> UInt64 {
        var f = Fingerprint()
        f.add(train)
        f.add(CollectionOfOne(validation.count))
        return f.value
    }

    public func endStep(applied: Bool) {
        // Truncated BPTT: the next batch starts from this state's values, not its history. After a
        // skipped step the streams restart from zero rather than from a state that may be poisoned.
        carried = applied ? next.map { RecurrentState(h: Variable($0.h.value), c: $0.c.map { Variable($0.value) }) } : nil
        next = nil
    }

    /// A new epoch starts every stream from zero.
    public func endEpoch() { carried = nil }

    /// The argmax prediction of stream 0 for the last batch (seed 001's printout).
    public func lastPrediction() -> [Int] {
        guard let (logits, t) = lastLogits else { return [] }
        return Array(logits.argmaxRows().prefix(t))
    }

    public func validate(group: ProcessGroup) throws -> (loss: Double, figures: [String: Double])? {
        guard validation.count > 1 else { return nil }
        let loss = try Self.evaluate(model, validation, streams: batchSize, steps: sequenceLength, group: group)
        return (loss, ["validationBitsPerCharacter": loss / Foundation.log(2)])
    }

    public var figures: [ReportedFigure] { [ReportedFigure(key: "BitsPerCharacter", label: "bits/char", name: "validation bits/char")] }
    public var throughputUnit: String { "characters" }

    /// The carried state as tensors `(L, B, H)`, saved with a checkpoint taken mid-epoch so a resumed
    /// run continues every stream where it stopped. In a group, after `prepareSave`, every stream's
    /// (set before training, the whole state; each rank takes its streams at its first step).
    public var carriedState: RecurrentState<Tensor<Float>>? {
        get { gathered ?? carried.map { RecurrentState(h: $0.h.value, c: $0.c?.value) } }
        set { carried = newValue.map { RecurrentState(h: Variable($0.h), c: $0.c.map { Variable($0) }) } }
    }

    /// Inputs and targets of batch `w` of `streams` streams of length `length` over `ids`: `(B, T)` each
    /// (`(|only|, T)` for the streams `only` alone).
    public static func window(_ ids: [Int], streams: Int, length: Int, window w: Int, steps: Int, only: [Int]? = nil)
        -> (x: [Int], y: [Int], t: Int) {
        let start = w * steps
        let t = min(steps, length - start)
        var x: [Int] = [], y: [Int] = []
        let chosen = only ?? Array(0..<streams)
        x.reserveCapacity(chosen.count * t)
        y.reserveCapacity(chosen.count * t)
        for b in chosen {
            let base = b * length + start
            x += ids[base..<(base + t)]
            y += ids[(base + 1)...(base + t)]
        }
        return (x, y, t)
    }

    /// Mean cross-entropy per predicted character (nats) of `ids` under `model`, reading `streams`
    /// contiguous streams `steps` at a time with the state carried (inference path).
    /// In a group, each rank reads every size-th stream and the sums are added up over the ranks.
    public static func evaluate(_ model: CharLanguageModel<Float>, _ ids: [Int], streams: Int, steps: Int,
                                group: ProcessGroup = .single) throws(RNNKitError) -> Double {
        let B = max(1, min(streams, ids.count - 1))
        let length = (ids.count - 1) / B
        guard length > 0 else { return .nan }
        let mine = Array(group.share(0..<B))
        var state: RecurrentState<Tensor<Float>>? = nil
        var total = 0.0
        if !mine.isEmpty {
            for w in 0..<((length + steps - 1) / steps) {
                let (x, y, t) = window(ids, streams: B, length: length, window: w, steps: steps, only: mine.count == B ? nil : mine)
                let (logits, next) = try model.logits(ids: x, batch: mine.count, steps: t, state: state)
                state = next
                total += Double(try Loss.sequenceLoss(logits: Variable(logits), targets: y).value.scalars[0]) * Double(mine.count * t)
            }
        }
        var sums = [total]
        group.sum(&sums)
        return sums[0] / Double(B * length)
    }
}
