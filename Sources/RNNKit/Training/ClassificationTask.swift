import Foundation

/// Loss, accuracy and confusion matrix of a model on a data set.
public struct Evaluation: Sendable {
    public var loss: Double
    public var accuracy: Double
    /// `confusion[true][predicted]` counts.
    public var confusion: [[Int]]
}

extension TrainingOptions {
    /// What the training loop needs of these options.
    public var schedule: TrainingSchedule {
        TrainingSchedule(epochs: epochs, samples: samples, optimizer: optimizer, clipNorm: clipNorm, learningRateDecay: learningRateDecay,
                         seed: seed, skipNonFiniteSteps: skipNonFiniteSteps == true)
    }
}

/// Trains a `SequenceClassifier` on image rows: minibatches of `batchSize` in a seeded random order,
/// softmax cross-entropy, accuracy on the training stretch and the validation set.
public final class ClassificationTask: TrainingTask {
    public let model: SequenceClassifier<Float>
    public let train: ImageClassificationData
    public let validation: ImageClassificationData
    public let batchSize: Int
    /// The epoch's order of training examples.
    private var order: [Int] = []

    public init(model: SequenceClassifier<Float>, train: ImageClassificationData, validation: ImageClassificationData, batchSize: Int)
        throws(RNNKitError) {
        try requirePositive(batchSize, "batchSize")
        let c = model.configuration
        try requireTrainingMemory(parameters: c.parameterCount, examples: Double(batchSize) * Double(train.rows),
                                  scalarsPerExample: c.recurrent.trainingScalarsPerStep + 2 * Double(train.columns + (c.projection ?? 0)),
                                  for: "training with batch \(batchSize) (\(train.rows) steps each)",
                                  hint: "Lower --batch, or the model's size.")
        self.model = model
        self.train = train
        self.validation = validation
        self.batchSize = batchSize
    }

    public var parameters: [(name: String, variable: Variable<Float>)] { model.namedParameters }
    public var examplesPerEpoch: Int { train.count }
    public func steps(forExamples examples: Int) -> Int { (examples + batchSize - 1) / batchSize }

    public func beginEpoch(shuffling generator: inout SeededGenerator) {
        order = Array(0..<train.count)
        for i in stride(from: order.count - 1, to: 0, by: -1) {  // Fisher–Yates with the run's generator
            order.swapAt(i, Int(generator.next() % UInt64(i + 1)))
        }
    }

    public func trainingBatch(step: Int, limit: Int, generator: inout SeededGenerator) throws -> TrainingBatch {
        let (images, labels) = train.batch(order[(step * batchSize)..<min((step + 1) * batchSize, limit)])
        let logits = try model(Variable(images), training: &generator)
        let loss = try Loss.softmaxCrossEntropy(logits: logits, labels: labels)
        let correct = zip(logits.value.argmaxRows(), labels).filter { $0 == $1 }.count
        return TrainingBatch(loss: loss, count: labels.count, sums: ["correct": Double(correct)])
    }

    public func trainingFigures(sums: [String: Double], count: Int) -> [String: Double] {
        ["trainAccuracy": (sums["correct"] ?? 0) / Double(max(count, 1))]
    }

    public func validate() throws -> (loss: Double, figures: [String: Double])? {
        guard validation.count > 0 else { return nil }
        let e = try evaluate(model, on: validation)
        return (e.loss, ["validationAccuracy": e.accuracy])
    }

    public var figures: [ReportedFigure] { [ReportedFigure(key: "Accuracy", label: "acc", name: "accuracy", isPercentage: true)] }
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
