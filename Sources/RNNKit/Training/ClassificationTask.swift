import Foundation

/// Loss, accuracy and confusion matrix of a classifier on a data set.
public struct Evaluation: Sendable {
    public var loss: Double
    public var accuracy: Double
    /// `confusion[true][predicted]` counts.
    public var confusion: [[Int]]

    /// The mean over classes of F1 = 2·precision·recall / (precision + recall) (scikit-learn's
    /// `f1_score(average="macro")`; a class never predicted nor present counts 0).
    public var macroF1: Double {
        let k = confusion.count
        guard k > 0 else { return 0 }
        var total = 0.0
        for c in 0..<k {
            let tp = Double(confusion[c][c])
            let predicted = Double((0..<k).reduce(0) { $0 + confusion[$1][c] }), actual = Double(confusion[c].reduce(0, +))
            total += predicted + actual > 0 ? 2 * tp / (predicted + actual) : 0
        }
        return total / Double(k)
    }
}

/// Mean squared error (in scaled units, the training loss) and MAE and RMSE in the targets' units.
public struct RegressionEvaluation: Sendable {
    public var loss: Double
    public var meanAbsoluteError: Double
    public var rootMeanSquaredError: Double
    /// Values compared (targets × labelled steps).
    public var count: Int = 0
}

extension Evaluation {
    /// The evaluation of every rank's part together (sums over the group; the identity alone).
    public func combined(over group: ProcessGroup) -> Evaluation {
        guard group.usesMPI else { return self }
        let n = Double(confusion.joined().reduce(0, +))
        var sums = [loss * n, n] + confusion.joined().map(Double.init)
        group.sum(&sums)
        let k = confusion.count
        let all = (0..<k).map { i in (0..<k).map { j in Int(sums[2 + i * k + j]) } }
        let total = max(sums[1], 1)
        return Evaluation(loss: sums[0] / total, accuracy: Double((0..<k).reduce(0) { $0 + all[$1][$1] }) / total, confusion: all)
    }
}

extension RegressionEvaluation {
    /// The evaluation of every rank's part together (sums over the group; the identity alone).
    public func combined(over group: ProcessGroup) -> RegressionEvaluation {
        guard group.usesMPI else { return self }
        let n = Double(count)
        var sums = [loss * n, meanAbsoluteError * n, rootMeanSquaredError * rootMeanSquaredError * n, n]
        group.sum(&sums)
        let total = max(sums[3], 1)
        return RegressionEvaluation(loss: sums[0] / total, meanAbsoluteError: sums[1] / total,
                                    rootMeanSquaredError: (sums[2] / total).squareRoot(), count: Int(sums[3]))
    }
}

extension TrainingOptions {
    /// What the training loop needs of these options.
    public var schedule: TrainingSchedule {
        TrainingSchedule(epochs: epochs, samples: samples, optimizer: optimizer, clipNorm: clipNorm, learningRateDecay: learningRateDecay,
                         seed: seed, skipNonFiniteSteps: skipNonFiniteSteps == true, warmupSteps: warmupSteps)
    }
}

/// What a supervised model learns: a class per sequence, or numbers.
public enum SupervisedObjective: String, Codable, Sendable, CaseIterable {
    /// Softmax cross-entropy over the outputs as class logits.
    case classification
    /// Mean squared error of the outputs against standardised targets.
    case regression
}

/// Trains a `SequenceClassifier` (for regression, its outputs are the predicted numbers) on
/// labelled sequences: minibatches of `batchSize` in a seeded random order, variable lengths
/// passed to the layers, and accuracy, or MAE and RMSE, on the validation set.
public final class SupervisedTask<Data: SupervisedSequences>: TrainingTask {
    public let model: SequenceClassifier<Float>
    public let train: Data
    public let validation: Data
    public let batchSize: Int
    public let objective: SupervisedObjective
    /// How regression targets were scaled, to report errors in their own units.
    public let targetScaling: FeatureScaling?
    /// The epoch's order of training examples.
    private var order: [Int] = []

    public init(model: SequenceClassifier<Float>, train: Data, validation: Data, batchSize: Int,
                objective: SupervisedObjective = .classification, targetScaling: FeatureScaling? = nil) throws(RNNKitError) {
        try requirePositive(batchSize, "batchSize")
        let c = model.configuration
        try requireTrainingMemory(parameters: c.parameterCount, examples: Double(batchSize) * Double(train.maxSteps),
                                  scalarsPerExample: c.recurrent.trainingScalarsPerStep + 2 * Double(train.features + (c.projection ?? 0)),
                                  for: "training with batch \(batchSize) (\(train.maxSteps) steps each)",
                                  hint: "Lower --batch, or the model's size.")
        self.model = model
        self.train = train
        self.validation = validation
        self.batchSize = batchSize
        self.objective = objective
        self.targetScaling = targetScaling
    }

    public var parameters: [(name: String, variable: Variable<Float>)] { model.namedParameters }
    public var examplesPerEpoch: Int { train.count }
    public func steps(forExamples examples: Int) -> Int { (examples + batchSize - 1) / batchSize }

    public func beginEpoch(shuffling generator: inout SeededGenerator) {
        order = generator.permutation(train.count)
    }

    public func trainingBatch(step: Int, limit: Int, group: ProcessGroup, generator: inout SeededGenerator) throws -> TrainingBatch? {
        let rows = (step * batchSize)..<min((step + 1) * batchSize, limit)
        let indices = group.size == 1 ? Array(order[rows]) : group.share(rows).map { order[$0] }
        guard !indices.isEmpty else { return nil }
        let batch = train.examples(indices)
        let outputs = try model(Variable(batch.inputs), lengths: batch.lengths, training: &generator)
        let sequences = batch.inputs.shape[0]
        let mask = batch.stepMask?.scalars
        let labelled = Double(mask.map { $0.reduce(0, +) } ?? Float(sequences))  // what the loss averages over
        switch objective {
        case .classification:
            // With labels per step, the loss averages the real steps (TF's sequence_loss with a mask).
            let loss = try batch.stepMask.map { try Loss.sequenceLoss(logits: outputs, targets: batch.labels, weights: $0) }
                ?? Loss.softmaxCrossEntropy(logits: outputs, labels: batch.labels)
            let correct = zip(outputs.value.argmaxRows(), batch.labels).enumerated().filter { k, pair in
                pair.0 == pair.1 && (mask?[k] ?? 1) > 0
            }.count
            return TrainingBatch(loss: loss, count: sequences, sums: ["correct": Double(correct), "labelled": labelled],
                                 lossWeight: labelled)
        case .regression:
            return TrainingBatch(loss: try Loss.meanSquaredError(predictions: outputs, targets: batch.targets!, weights: batch.stepMask),
                                 count: sequences, lossWeight: labelled * Double(batch.targets!.shape.last!))
        }
    }

    public var sumKeys: [String] { objective == .classification ? ["correct", "labelled"] : [] }

    /// The set's size and shape, and up to 256 of its examples evenly spread.
    public func dataFingerprint() -> UInt64 {
        var f = Fingerprint()
        f.add([train.count, train.maxSteps, train.features, validation.count])
        let picks = Array(Set((0..<min(train.count, 256)).map { $0 * train.count / min(train.count, 256) })).sorted()
        let batch = train.examples(picks)
        f.add(batch.inputs.scalars)
        f.add(batch.labels)
        f.add(batch.targets?.scalars ?? [])
        f.add(batch.lengths ?? [])
        return f.value
    }

    public func trainingFigures(sums: [String: Double], count: Int) -> [String: Double] {
        // Accuracy over the labelled steps when tagging (sequences otherwise).
        objective == .classification ? ["trainAccuracy": (sums["correct"] ?? 0) / max(sums["labelled"] ?? Double(count), 1)] : [:]
    }

    public func validate(group: ProcessGroup) throws -> (loss: Double, figures: [String: Double])? {
        guard validation.count > 0 else { return nil }
        let rows = group.block(validation.count)
        switch objective {
        case .classification:
            let e = try evaluate(model, on: validation, rows: rows).combined(over: group)
            return (e.loss, ["validationAccuracy": e.accuracy])
        case .regression:
            let e = try evaluateRegression(model, on: validation, rows: rows, targetScaling: targetScaling).combined(over: group)
            return (e.loss, ["validationMAE": e.meanAbsoluteError, "validationRMSE": e.rootMeanSquaredError])
        }
    }

    public var figures: [ReportedFigure] {
        objective == .classification
            ? [ReportedFigure(key: "Accuracy", label: "acc", name: "accuracy", isPercentage: true)]
            : [ReportedFigure(key: "MAE", label: "MAE", name: "validation MAE"), ReportedFigure(key: "RMSE", label: "RMSE", name: "RMSE")]
    }
}

/// The image-row classifier of `rnnkit train mnist`.
public typealias ClassificationTask = SupervisedTask<ImageClassificationData>

/// Evaluates a classifier in batches (inference path: no dropout, nothing recorded); a tagger is
/// scored over every labelled step.
public func evaluate<Data: SupervisedSequences>(_ model: SequenceClassifier<Float>, on data: Data, rows: Range<Int>? = nil,
                                                batchSize: Int = 500) throws(RNNKitError) -> Evaluation {
    let classes = model.configuration.classes
    var confusion = Array(repeating: Array(repeating: 0, count: classes), count: classes)
    var lossSum = 0.0, correct = 0, labelled = 0.0
    let rows = rows ?? 0..<data.count
    var start = rows.lowerBound
    while start < rows.upperBound {
        let batch = data.examples(start..<min(start + batchSize, rows.upperBound))
        let logits = try model.logits(batch.inputs, lengths: batch.lengths)
        let labels = batch.labels, mask = batch.stepMask
        let weight = Double(mask?.sum() ?? Float(labels.count))
        let loss: Variable<Float>
        if let mask {
            loss = try Loss.sequenceLoss(logits: Variable(logits), targets: labels, weights: mask)
        } else {
            loss = try Loss.softmaxCrossEntropy(logits: Variable(logits), labels: labels)
        }
        lossSum += Double(loss.value.scalars[0]) * weight
        labelled += weight
        for (k, (p, y)) in zip(logits.argmaxRows(), labels).enumerated() where (mask?.scalars[k] ?? 1) > 0 {
            confusion[y][p] += 1
            if p == y { correct += 1 }
        }
        start += batchSize
    }
    let n = max(labelled, 1)
    return Evaluation(loss: lossSum / n, accuracy: Double(correct) / n, confusion: confusion)
}

/// Evaluates a regression model in batches: the mean squared error in scaled units, and MAE and
/// RMSE after undoing `targetScaling` (over every labelled step of a tagger).
public func evaluateRegression<Data: SupervisedSequences>(_ model: SequenceClassifier<Float>, on data: Data, rows: Range<Int>? = nil,
                                                          targetScaling: FeatureScaling?, batchSize: Int = 500)
    throws(RNNKitError) -> RegressionEvaluation {
    var squared = 0.0, absolute = 0.0, squaredOriginal = 0.0, n = 0
    let rows = rows ?? 0..<data.count
    var start = rows.lowerBound
    while start < rows.upperBound {
        let batch = data.examples(start..<min(start + batchSize, rows.upperBound))
        let outputs = try model.logits(batch.inputs, lengths: batch.lengths)
        guard let targets = batch.targets else {
            throw .invalidValue(argument: "data", expected: "numeric targets", found: "class labels", hint: "Evaluate a classifier instead.")
        }
        let p = targetScaling?.invert(outputs.scalars) ?? outputs.scalars, y = targetScaling?.invert(targets.scalars) ?? targets.scalars
        let width = targets.shape.last!, mask = batch.stepMask?.scalars
        for k in 0..<targets.count where (mask?[k / width] ?? 1) > 0 {
            let scaled = Double(outputs.scalars[k] - targets.scalars[k]), e = Double(p[k] - y[k])
            squared += scaled * scaled
            absolute += abs(e)
            squaredOriginal += e * e
            n += 1
        }
        start += batchSize
    }
    let m = Double(max(n, 1))
    return RegressionEvaluation(loss: squared / m, meanAbsoluteError: absolute / m, rootMeanSquaredError: (squaredOriginal / m).squareRoot(),
                                count: n)
}
