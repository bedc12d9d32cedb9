import ArgumentParser
import Foundation
import RNNKit

extension SupervisedObjective: ExpressibleByArgument {}

/// Reads a sequence file by its extension.
func readSequences(_ path: String) throws -> SequenceDataset {
    switch (path as NSString).pathExtension.lowercased() {
    case "ts": return try TSFile.read(path: path)
    default:
        throw ValidationError("\(path): unknown sequence format '.\((path as NSString).pathExtension)'; RNNKit reads UEA/UCR .ts files.")
    }
}

struct TrainSequences: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sequences",
        abstract: "Train a classifier or regressor on your own labelled sequences (UEA/UCR .ts).",
        discussion: """
        The task is read from the data: class labels train a classifier, a numeric target a regressor. Features are
        standardised with the training split's statistics (missing values become the mean); sequences of different
        lengths are read to their own ends. Defaults: LSTM 128, readout final, Adam 1e-3, batch 32, 100 epochs,
        a tenth of the training file held out for validation.
        """
    )

    @Option(help: "Training sequences (.ts) (default: the resumed run's).") var data: String?
    @Option(help: "Test sequences, evaluated at the end.") var test: String?
    @Option(help: "classification or regression (default: read from the labels).") var task: SupervisedObjective?
    @OptionGroup var flags: ClassifierFlags

    func validate() throws {
        if flags.resume == nil && data == nil { throw ValidationError("give the training sequences with --data FILE, or --resume DIR.") }
        if flags.resume != nil { try flags.rejectSetupFlags(also: [("--task", task != nil)]) }
    }

    func run() throws {
        let resumed = try flags.resume.map { try ClassifierCheckpoint.load(from: $0, forResume: true, task: "sequences") }
        let dataPath = data ?? resumed!.configuration.data.source
        let full = try readSequences(dataPath)
        let testSet = try test.map(readSequences)

        let directory: String
        let trainer: Trainer<SupervisedTask<SequenceDataset>>
        var checkpoint: CheckpointConfiguration
        var metricLines: [String] = []
        if let resume = flags.resume, let loaded = resumed {
            let (options, progress) = try flags.continuing(loaded, from: resume)
            checkpoint = loaded.configuration
            checkpoint.training = options
            let (train, validation) = try prepare(full, path: dataPath, checkpoint: checkpoint.data, holdOut: options.validationCount)
            trainer = try Trainer(task: SupervisedTask(model: loaded.model, train: train, validation: validation, batchSize: options.batchSize,
                                                       objective: checkpoint.data.objective ?? .classification,
                                                       targetScaling: checkpoint.data.targetScaling),
                                  schedule: options.schedule, resume: (progress, loaded.optimizerSteps, loaded.optimizerState))
            directory = flags.out ?? resume
            metricLines = loaded.metrics
            log(resumeNote(resume, progress))
        } else {
            let objective: SupervisedObjective
            let outputs: Int, classNames: [String]
            switch full.labels {
            case let .classes(_, names):
                objective = task ?? .classification
                guard objective == .classification else {
                    throw ValidationError("\(dataPath) has class labels; --task regression needs numeric targets (@targetLabel true).")
                }
                (outputs, classNames) = (names.count, names)
            case let .targets(_, width):
                objective = task ?? .regression
                guard objective == .regression else {
                    throw ValidationError("\(dataPath) has numeric targets; --task classification needs class labels (@classLabel true ...).")
                }
                (outputs, classNames) = (width, [])
            case .none:
                throw ValidationError("\(dataPath) has no labels; training needs @classLabel true or @targetLabel true.")
            }
            var defaults = TrainingOptions()
            defaults.epochs = 100
            defaults.batchSize = 32
            defaults.validationCount = full.count / 10
            let base = SequenceClassifierConfiguration(
                features: full.features, recurrent: RecurrentConfiguration(cell: .lstm, inputSize: full.features, hiddenSize: 128),
                readout: .final, classes: outputs)
            let (model, options) = flags.apply(to: (base, defaults))
            try options.validate()
            guard options.validationCount < full.count else {
                throw ValidationError("--validation \(options.validationCount) holds out every one of the \(full.count) sequences; hold out fewer.")
            }
            directory = flags.out ?? defaultRunFolder("sequences")
            try ClassifierCheckpoint.checkWritable(directory)
            // Statistics from the training split only: the held-out sequences are the file's last ones.
            let trainPart = full.subset(0..<(full.count - options.validationCount))
            let description = DataDescription(
                steps: full.maxSteps, features: full.features, classNames: classNames, source: dataPath, objective: objective,
                featureScaling: FeatureScaling.fit(trainPart.values, width: full.features),
                targetScaling: { if case let .targets(t, width) = trainPart.labels { return FeatureScaling.fit(t, width: width) }; return nil }())
            var generator = SeededGenerator(seed: options.seed)
            let classifier = try SequenceClassifier<Float>(model, generator: &generator)
            let (train, validation) = try prepare(full, path: dataPath, checkpoint: description, holdOut: options.validationCount)
            trainer = try Trainer(task: SupervisedTask(model: classifier, train: train, validation: validation, batchSize: options.batchSize,
                                                       objective: objective, targetScaling: description.targetScaling),
                                  schedule: options.schedule)
            checkpoint = CheckpointConfiguration(task: "sequences", model: model, data: description, training: options)
            let r = model.recurrent
            log("model: \(r.cell.rawValue) \(r.hiddenSize)\(r.isBidirectional ? "×2" : "") × \(r.numLayers) layer(s), readout "
                + "\(model.readout.rawValue), \(objective.rawValue) with \(outputs) output(s), "
                + "\(classifier.namedParameters.reduce(0) { $0 + $1.variable.value.count }) parameters")
            log("data: \(dataPath): \(train.count) training, \(validation.count) validation sequences of \(full.features) feature(s), "
                + "lengths \(full.minLength)–\(full.maxSteps)" + (testSet.map { "; \($0.count) test sequences" } ?? ""))
            log("training: \(options.optimizer.kind.rawValue) lr \(options.optimizer.learningRate), batch \(options.batchSize), "
                + (options.samples.map { "\($0) samples" } ?? "\(options.epochs) epochs") + ", seed \(options.seed); saving to \(directory)")
        }

        _ = try runTraining(trainer, directory: directory, command: "rnnkit train sequences", metrics: &metricLines) { lines, curves in
            try ClassifierCheckpoint.save(to: directory, configuration: checkpoint, model: trainer.task.model, optimizer: trainer.optimizer,
                                          progress: trainer.progress, metrics: lines, curves: curves)
        }
        var summary = trainingSummary(trainer, directory: directory)
        if let testSet, let testPath = test {
            let scaled = try scaledForModel(testSet, path: testPath, data: checkpoint.data)
            summary.merge(try report(model: trainer.task.model, data: scaled, description: checkpoint.data, name: testPath)) { $1 }
        }
        log("model saved in \(directory)")
        if flags.json { printJSONLine(summary) }
    }

    /// The training and validation splits, scaled as `checkpoint` says (the last `holdOut` are validation).
    private func prepare(_ full: SequenceDataset, path: String, checkpoint: DataDescription, holdOut: Int) throws
        -> (train: SequenceDataset, validation: SequenceDataset) {
        let scaled = try scaledForModel(full, path: path, data: checkpoint)
        return (scaled.subset(0..<(full.count - holdOut)), scaled.subset((full.count - holdOut)..<full.count))
    }
}

/// `data` scaled as the model was trained, after checking it fits the model: the same features and
/// the same kind of labels (classes under the same names, in any order).
func scaledForModel(_ data: SequenceDataset, path: String, data description: DataDescription) throws -> SequenceDataset {
    guard data.features == description.features else {
        throw ValidationError("\(path): sequences have \(data.features) feature(s) but the model reads \(description.features).")
    }
    var out = data
    if case let .classes(ids, names) = data.labels {
        guard description.objective != .regression else {
            throw ValidationError("\(path) has class labels but the model is a regressor.")
        }
        // Map this file's class list onto the model's.
        var map: [Int] = []
        for name in names {
            guard let k = description.classNames.firstIndex(of: name) else {
                throw ValidationError("\(path): class '\(name)' is not one the model knows (\(description.classNames.joined(separator: " "))).")
            }
            map.append(k)
        }
        out.labels = .classes(ids.map { map[$0] }, names: description.classNames)
    } else if case .targets = data.labels, description.objective != .regression {
        throw ValidationError("\(path) has numeric targets but the model is a classifier.")
    }
    return description.featureScaling.map { out.scaled($0, targets: description.targetScaling) } ?? out
}

/// Prints the test report (accuracy, macro-F1 and the confusion matrix; or MAE and RMSE) and
/// returns its `--json` fields.
func report(model: SequenceClassifier<Float>, data: SequenceDataset, description: DataDescription, name: String) throws -> [String: Any] {
    switch data.labels {
    case .none:
        throw ValidationError("\(name) has no labels to evaluate against.")
    case .targets:
        let e = try evaluateRegression(model, on: data, targetScaling: description.targetScaling)
        log(String(format: "test MAE %.6g  RMSE %.6g  (%d sequences from %@)", e.meanAbsoluteError, e.rootMeanSquaredError, data.count, name))
        return ["test_mae": e.meanAbsoluteError, "test_rmse": e.rootMeanSquaredError, "test_loss": e.loss, "test_sequences": data.count]
    case .classes:
        let e = try evaluate(model, on: data)
        log(String(format: "test loss %.4f  test accuracy %.2f%%  macro-F1 %.4f  (%d sequences from %@)",
                   e.loss, 100 * e.accuracy, e.macroF1, data.count, name))
        printConfusion(e.confusion, names: description.classNames)
        return ["test_accuracy": e.accuracy, "test_loss": e.loss, "test_macro_f1": e.macroF1, "confusion": e.confusion,
                "test_sequences": data.count]
    }
}

struct EvalSequences: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sequences", abstract: "Accuracy, macro-F1 and confusion matrix (or MAE and RMSE) of a saved sequence model.")

    @Option(help: "Checkpoint folder.") var model: String
    @Option(help: "Labelled sequences (.ts).") var data: String
    @Flag(help: "End with one line of JSON holding the results.") var json = false

    func run() throws {
        let loaded = try ClassifierCheckpoint.load(from: model, forResume: false, task: "sequences")
        let set = try scaledForModel(readSequences(data), path: data, data: loaded.configuration.data)
        let fields = try report(model: loaded.model, data: set, description: loaded.configuration.data, name: data)
        if json { printJSONLine(fields.merging(["model": model]) { $1 }) }
    }
}

struct PredictSequences: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sequences", abstract: "Predict a class (with probabilities) or numbers for every sequence of a file; writes CSV.")

    @Option(help: "Checkpoint folder.") var model: String
    @Option(help: "Sequences (.ts; labels, if any, are ignored).") var data: String
    @Option(help: "CSV file to write (default: standard output).") var out: String?

    func run() throws {
        let loaded = try ClassifierCheckpoint.load(from: model, forResume: false, task: "sequences")
        let description = loaded.configuration.data
        var set = try readSequences(data)
        set.labels = .none
        set = try scaledForModel(set, path: data, data: description)
        var rows: [String]
        let regression = description.objective == .regression
        if regression {
            rows = ["index," + (0..<loaded.configuration.model.classes).map { "prediction_\($0)" }.joined(separator: ",")]
        } else {
            rows = ["index,predicted," + description.classNames.map { "p_" + csvField($0) }.joined(separator: ",")]
        }
        var start = 0
        while start < set.count {
            let batch = set.examples(start..<min(start + 500, set.count))
            let outputs = try loaded.model.logits(batch.inputs, lengths: batch.lengths)
            let width = outputs.shape[1]
            if regression {
                let values = description.targetScaling?.invert(outputs.scalars) ?? outputs.scalars
                for b in 0..<outputs.shape[0] {
                    rows.append("\(start + b)," + values[(b * width)..<((b + 1) * width)].map { "\($0)" }.joined(separator: ","))
                }
            } else {
                let probabilities = outputs.softmaxRows(), predicted = outputs.argmaxRows()
                for b in 0..<outputs.shape[0] {
                    rows.append("\(start + b),\(csvField(description.classNames[predicted[b]])),"
                                + probabilities.scalars[(b * width)..<((b + 1) * width)].map { String(format: "%.6f", $0) }.joined(separator: ","))
                }
            }
            start += 500
        }
        let text = rows.joined(separator: "\n") + "\n"
        if let out {
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)  // write, then rename
            } catch {
                throw DataError.unwritable(path: out, reason: error.localizedDescription, hint: "Choose an --out file in a place you can write to.")
            }
            log("\(set.count) predictions written to \(out)")
        } else {
            print(text, terminator: "")
        }
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break.
func csvField(_ s: String) -> String {
    s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
        ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}

/// The confusion matrix with class names as row labels.
func printConfusion(_ confusion: [[Int]], names: [String]) {
    print("confusion matrix (rows: true class, columns: predicted):")
    func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, n - s.count))
        return left ? s + fill : fill + s
    }
    let width = max(5, String(confusion.flatMap { $0 }.max() ?? 0).count + 1)
    print(String(repeating: " ", count: 14) + (0..<confusion.count).map { pad(String($0), width) }.joined())
    for (i, row) in confusion.enumerated() {
        let label = i < names.count ? names[i] : String(i)
        print(pad(String(label.prefix(12)), 12, left: true) + "  " + row.map { pad(String($0), width) }.joined())
    }
}
