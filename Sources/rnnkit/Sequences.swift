import ArgumentParser
import Foundation
import RNNKit

extension SupervisedObjective: ExpressibleByArgument {}

/// How to read a sequence file besides its path: the `.npy` labels file, and the columns of a long-form CSV.
struct SequenceFileFlags: ParsableArguments {
    @Option(help: "With .npy data: the labels, a .npy of shape (N,) or (N, T).") var labels: String?
    @Option(help: "CSV: the column whose values group rows into sequences (default: the whole file is one sequence).")
    var id: String?
    @Option(help: "CSV: the feature columns, comma-separated (default: every column but --id, --label and --order).")
    var features: String?
    @Option(help: "CSV: the label column.") var label: String?
    @Option(help: "CSV: sort each sequence's rows by this column (default: the file's order).") var order: String?
    @Flag(name: .customLong("per-step"), help: "A label for every step (tagging): CSV rows keep their own labels.")
    var perStep = false

    /// The CSV columns the flags name, over `saved` (the checkpoint's).
    func columns(over saved: LongFormColumns?) -> LongFormColumns {
        LongFormColumns(id: id ?? saved?.id,
                        features: features.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? saved?.features,
                        label: label ?? saved?.label, order: order ?? saved?.order)
    }

    /// The CSV column flags, and whether each was given.
    var columnFlags: [(String, Bool)] {
        [("--id", id != nil), ("--features", features != nil), ("--label", label != nil), ("--order", order != nil)]
    }

    /// Flags that set up the data, refused on `--resume` (the run keeps its own).
    var setupFlags: [(String, Bool)] { columnFlags + [("--per-step", perStep)] }
}

/// What was read: the sequences, their ids when the file names them (CSV), and the CSV columns used.
struct SequenceFile {
    var data: SequenceDataset
    var ids: [String]?
    var columns: LongFormColumns?
    var featureNames: [String]?
}

/// Reads a sequence file by its extension: `.ts`, `.npy` (labels from `labelsPath`), `.npz`, or long-form `.csv`.
/// - Parameters:
///   - saved: the checkpoint's data description, whose CSV columns and tagging apply unless the flags say otherwise.
///   - withLabels: false reads no labels (prediction).
func readSequences(_ path: String, flags: SequenceFileFlags, labelsPath: String?, saved: DataDescription? = nil,
                   objective: SupervisedObjective?, withLabels: Bool = true) throws -> SequenceFile {
    let perStep = flags.perStep || saved?.labelsPerStep == true
    let ext = (path as NSString).pathExtension.lowercased()
    if ext != "npy" && labelsPath != nil { throw ValidationError("--labels goes with .npy data; \(path) holds its own labels.") }
    if ext != "csv", let (name, _) = flags.columnFlags.first(where: { $0.1 }) {
        throw ValidationError("\(name) names a CSV column, but \(path) is not a .csv file.")
    }
    var file: SequenceFile
    switch ext {
    case "ts":
        if flags.perStep { throw ValidationError("\(path): .ts files hold one label per sequence; --per-step needs .npy/.npz or CSV data.") }
        file = SequenceFile(data: try TSFile.read(path: path))
    case "npy", "npz":
        file = SequenceFile(data: try SequenceDataset.readNumPy(path: path, labelsPath: withLabels ? labelsPath : nil, objective: objective))
        if flags.perStep && !file.data.labelsPerStep && withLabels {
            throw ValidationError("\(path): --per-step needs labels of shape (N, T), one per step; these are one per sequence.")
        }
    case "csv":
        var columns = flags.columns(over: saved?.columns)
        if !withLabels { columns.label = nil }
        if let names = saved?.featureNames, flags.features == nil { columns.features = names }
        let table = try CSVTable.read(path: path, columns: columns.features.map { $0 + [columns.id, columns.label, columns.order].compactMap { $0 } })
        let (data, ids, features) = try SequenceDataset.longForm(table, columns: columns, perStep: perStep, objective: objective, path: path)
        file = SequenceFile(data: data, ids: ids, columns: columns, featureNames: features)
    default:
        throw ValidationError("\(path): unknown sequence format '.\((path as NSString).pathExtension)'; RNNKit reads UEA/UCR .ts, "
                              + "NumPy .npy/.npz and long-form .csv files.")
    }
    if !withLabels { file.data.labels = .none }
    return file
}

struct TrainSequences: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sequences",
        abstract: "Train a classifier, regressor or tagger on your own labelled sequences (.ts, .npy/.npz, long-form .csv).",
        discussion: """
        The task is read from the data: class labels (text or whole numbers) train a classifier, other numbers a \
        regressor (--task overrides), and labels per step a tagger (NumPy y of shape (N, T), or CSV with --per-step). \
        Features are standardised with the training split's statistics (missing values become the mean); sequences of \
        different lengths are read to their own ends.

        Defaults: LSTM 128, readout final (steps when tagging), Adam 1e-3, batch 32, 100 epochs, a tenth of the \
        training file held out for validation (spread over the file and its classes).
        """
    )

    @Option(help: "Training sequences: .ts, .npy (with --labels), .npz (x, y, lengths) or long-form .csv (default: the resumed run's).")
    var data: String?
    @Option(help: "Test sequences, evaluated at the end.") var test: String?
    @Option(name: .customLong("test-labels"), help: "With a .npy --test: its labels.") var testLabels: String?
    @Option(help: "classification or regression (default: read from the labels).") var task: SupervisedObjective?
    @OptionGroup var file: SequenceFileFlags
    @OptionGroup var flags: ClassifierFlags

    func validate() throws {
        if flags.resume == nil && data == nil { throw ValidationError("give the training sequences with --data FILE, or --resume DIR.") }
        if flags.resume != nil { try flags.rejectSetupFlags(also: [("--task", task != nil)] + file.setupFlags) }
    }

    func run() throws {
        let group = try joinProcessGroup(distributed: flags.distributed)
        let resumed = try flags.resume.map { try ClassifierCheckpoint.load(from: $0, forResume: true, task: "sequences") }
        let saved = resumed?.configuration.data
        let dataPath = data ?? saved!.source
        let labelsPath = file.labels ?? (data == nil ? saved?.labelsSource : nil)
        let read = try readSequences(dataPath, flags: file, labelsPath: labelsPath, saved: saved, objective: task ?? saved?.objective)
        let full = read.data
        let testSet = try test.map { try readSequences($0, flags: file, labelsPath: testLabels, saved: saved ?? description(read, path: dataPath),
                                                       objective: task ?? saved?.objective ?? objective(of: read.data)).data }

        let directory: String
        let trainer: Trainer<SupervisedTask<SequenceDataset>>
        var checkpoint: CheckpointConfiguration
        var metricLines: [String] = []
        if let resume = flags.resume, let loaded = resumed {
            let (resumedCheckpoint, options, progress) = try flags.continuing(loaded, from: resume)
            checkpoint = resumedCheckpoint
            let (train, validation) = try prepare(full, path: dataPath, checkpoint: checkpoint.data, holdOut: options.validationCount)
            trainer = try Trainer(task: SupervisedTask(model: loaded.model, train: train, validation: validation, batchSize: options.batchSize,
                                                       objective: checkpoint.data.objective ?? .classification,
                                                       targetScaling: checkpoint.data.targetScaling),
                                  schedule: options.schedule, resume: (progress, loaded.optimizerSteps, loaded.optimizerState), group: group)
            directory = flags.out ?? resume
            metricLines = loaded.metrics
            log(resumeNote(resume, progress))
        } else {
            let objective = objective(of: full)
            if let task, task != objective {
                throw ValidationError("\(dataPath): the labels cannot be read for \(task.rawValue).")
            }
            let outputs: Int, classNames: [String]
            switch full.labels {
            case let .classes(_, names): (outputs, classNames) = (names.count, names)
            case let .targets(_, width): (outputs, classNames) = (width, [])
            case .none:
                throw ValidationError("\(dataPath) has no labels; training needs them (.ts: @classLabel or @targetLabel; "
                                      + ".npy: --labels FILE; .npz: an array y; CSV: --label COLUMN).")
            }
            if full.labelsPerStep, let readout = flags.readout, readout != .steps {
                throw ValidationError("labels per step need --readout steps (a prediction at every step), not \(readout.rawValue).")
            }
            if !full.labelsPerStep && flags.readout == .steps {
                throw ValidationError("--readout steps predicts at every step and needs labels per step (--per-step).")
            }
            var defaults = TrainingOptions()
            defaults.epochs = 100
            defaults.batchSize = 32
            defaults.validationCount = full.count / 10
            let base = SequenceClassifierConfiguration(
                features: full.features, recurrent: RecurrentConfiguration(cell: .lstm, inputSize: full.features, hiddenSize: 128),
                readout: full.labelsPerStep ? .steps : .final, classes: outputs)
            let (model, options) = flags.apply(to: (base, defaults))
            try options.validate()
            guard options.validationCount < full.count else {
                throw ValidationError("--validation \(options.validationCount) holds out every one of the \(full.count) sequences; hold out fewer.")
            }
            directory = flags.out ?? defaultRunFolder("sequences")
            try ClassifierCheckpoint.checkWritable(directory)
            // Statistics from the training split only.
            var description = description(read, path: dataPath)
            description.validationSplit = "spread"
            let trainPart = full.subset(split(full, description, holdOut: options.validationCount).train)
            description.classNames = classNames
            description.featureScaling = FeatureScaling.fit(trainPart.values, width: full.features)
            if case let .targets(t, width) = trainPart.labels { description.targetScaling = FeatureScaling.fit(t, width: width) }
            var generator = SeededGenerator(seed: options.seed)
            let classifier = try SequenceClassifier<Float>(model, generator: &generator)
            let (train, validation) = try prepare(full, path: dataPath, checkpoint: description, holdOut: options.validationCount)
            trainer = try Trainer(task: SupervisedTask(model: classifier, train: train, validation: validation, batchSize: options.batchSize,
                                                       objective: objective, targetScaling: description.targetScaling),
                                  schedule: options.schedule, group: group)
            checkpoint = CheckpointConfiguration(task: "sequences", model: model, data: description, training: options)
            let r = model.recurrent
            log("model: \(r.cell.rawValue) \(r.hiddenSize)\(r.isBidirectional ? "×2" : "") × \(r.numLayers) layer(s), readout "
                + "\(model.readout.rawValue), \(objective.rawValue)\(full.labelsPerStep ? " of every step" : "") with \(outputs) output(s), "
                + "\(classifier.namedParameters.reduce(0) { $0 + $1.variable.value.count }) parameters")
            log("data: \(dataPath): \(train.count) training, \(validation.count) validation sequences of \(full.features) feature(s), "
                + "lengths \(full.minLength)–\(full.maxSteps)" + (testSet.map { "; \($0.count) test sequences" } ?? ""))
            log("training: \(options.optimizer.kind.rawValue) lr \(options.optimizer.learningRate), batch \(options.batchSize), "
                + (options.samples.map { "\($0) samples" } ?? "\(options.epochs) epochs") + ", seed \(options.seed); saving to \(directory)")
        }

        try group.describe(batch: trainer.task.batchSize)
        _ = try runTraining(trainer, directory: directory, command: "rnnkit train sequences", metrics: &metricLines) { lines, curves in
            try ClassifierCheckpoint.save(to: directory, configuration: checkpoint, model: trainer.task.model, optimizer: trainer.optimizer,
                                          progress: trainer.progress, metrics: lines, curves: curves)
        }
        defer { group.finish() }
        guard group.isPrimary else { return }  // the test report is rank 0's
        var summary = trainingSummary(trainer, directory: directory)
        if let testSet, let testPath = test {
            let scaled = try scaledForModel(testSet, path: testPath, data: checkpoint.data)
            summary.merge(try report(model: trainer.task.model, data: scaled, description: checkpoint.data, name: testPath)) { $1 }
        }
        log("model saved in \(directory)")
        if flags.json { printJSONLine(summary) }
    }

    /// Classification for class labels, regression for numbers.
    private func objective(of data: SequenceDataset) -> SupervisedObjective {
        if case .targets = data.labels { return .regression }
        return .classification
    }

    /// What the checkpoint records of the data as read (scalings and class names are filled in by the caller).
    private func description(_ read: SequenceFile, path: String) -> DataDescription {
        DataDescription(steps: read.data.maxSteps, features: read.data.features, classNames: [], source: path,
                        objective: objective(of: read.data), columns: read.columns, featureNames: read.featureNames,
                        labelsPerStep: read.data.labelsPerStep ? true : nil)
            .with { $0.labelsSource = file.labels }
    }

    /// The training and validation splits, scaled as `checkpoint` says.
    private func prepare(_ full: SequenceDataset, path: String, checkpoint: DataDescription, holdOut: Int) throws
        -> (train: SequenceDataset, validation: SequenceDataset) {
        let scaled = try scaledForModel(full, path: path, data: checkpoint)
        let (train, validation) = split(full, checkpoint, holdOut: holdOut)
        return (scaled.subset(train), scaled.subset(validation))
    }

    /// Which sequences train and which validate: spread over the file and its classes, or (runs
    /// saved before that rule) the file's last ones.
    private func split(_ full: SequenceDataset, _ description: DataDescription, holdOut: Int) -> (train: [Int], validation: [Int]) {
        description.validationSplit == "spread" ? full.validationSplit(count: holdOut)
            : (Array(0..<(full.count - holdOut)), Array((full.count - holdOut)..<full.count))
    }
}

extension DataDescription {
    /// A copy changed by `change`.
    func with(_ change: (inout DataDescription) -> Void) -> DataDescription {
        var copy = self
        change(&copy)
        return copy
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
    @Option(help: "Labelled sequences (.ts, .npy, .npz or .csv; CSV columns default to the training run's).") var data: String
    @OptionGroup var file: SequenceFileFlags
    @Flag(help: "End with one line of JSON holding the results.") var json = false

    func run() throws {
        let loaded = try ClassifierCheckpoint.load(from: model, forResume: false, task: "sequences")
        let description = loaded.configuration.data
        let read = try readSequences(data, flags: file, labelsPath: file.labels, saved: description, objective: description.objective)
        let set = try scaledForModel(read.data, path: data, data: description)
        let fields = try report(model: loaded.model, data: set, description: description, name: data)
        if json { printJSONLine(fields.merging(["model": model]) { $1 }) }
    }
}

struct PredictSequences: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sequences",
        abstract: "Predict a class (with probabilities) or numbers for every sequence (or, for a tagger, every step) of a file; writes CSV.")

    @Option(help: "Checkpoint folder.") var model: String
    @Option(help: "Sequences (.ts, .npy, .npz or .csv; labels, if any, are ignored).") var data: String
    @OptionGroup var file: SequenceFileFlags
    @Option(help: "CSV file to write (default: standard output).") var out: String?
    @Flag(help: "Write a classifier's raw outputs (logits, logit_<class>) instead of probabilities.") var logits = false

    func run() throws {
        let loaded = try ClassifierCheckpoint.load(from: model, forResume: false, task: "sequences")
        let description = loaded.configuration.data
        let read = try readSequences(data, flags: file, labelsPath: nil, saved: description, objective: description.objective,
                                     withLabels: false)
        let set = try scaledForModel(read.data, path: data, data: description)
        let regression = description.objective == .regression, perStep = loaded.configuration.model.readout == .steps
        let key = "index" + (read.ids != nil ? ",id" : "") + (perStep ? ",step" : "")
        var rows = [key + "," + (regression ? (0..<loaded.configuration.model.classes).map { "prediction_\($0)" }
                                            : ["predicted"] + description.classNames.map { (logits ? "logit_" : "p_") + csvField($0) })
                                                .joined(separator: ",")]
        var start = 0
        while start < set.count {
            let batch = set.examples(start..<min(start + 500, set.count))
            let outputs = try loaded.model.logits(batch.inputs, lengths: batch.lengths)
            let width = outputs.shape.last!, T = batch.inputs.shape[1]
            let values = regression ? description.targetScaling?.invert(outputs.scalars) ?? outputs.scalars
                : logits ? outputs.scalars : outputs.softmaxRows().scalars
            let predicted = regression ? [] : outputs.argmaxRows()
            for b in 0..<batch.inputs.shape[0] {
                let i = start + b, prefix = "\(i)" + (read.ids.map { "," + csvField($0[i]) } ?? "")
                // One output row per sequence, or per real step of it.
                for (r, step) in (perStep ? (0..<set.length(i)).map { (b * T + $0, $0) } : [(b, -1)]) {
                    let row = values[(r * width)..<((r + 1) * width)]
                    rows.append(prefix + (perStep ? ",\(step)" : "") + ","
                                + (regression ? row.map { "\($0)" }.joined(separator: ",")
                                              : csvField(description.classNames[predicted[r]]) + ","
                                                + row.map { String(format: logits ? "%.9g" : "%.6f", $0) }.joined(separator: ",")))
                }
            }
            start += 500
        }
        let text = rows.joined(separator: "\n") + "\n"
        if let out {
            try writeTextFile(text, to: out)
            log("\(rows.count - 1) predictions written to \(out)")
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
