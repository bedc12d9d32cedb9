import Foundation

/// Facts about the data a model was trained on, kept in `config.json`.
public struct DataDescription: Codable, Equatable, Sendable {
    /// Steps per example (image rows).
    public var steps: Int
    /// Features per step (image columns).
    public var features: Int
    /// One name per class, in label order.
    public var classNames: [String]
    /// Where the training data came from.
    public var source: String
    /// What the model predicts (nil: classification, as every `mnist` folder).
    public var objective: SupervisedObjective?
    /// How the features were standardised before training (sequences; nil: pixels / 255).
    public var featureScaling: FeatureScaling?
    /// How regression targets were standardised (the model predicts scaled targets).
    public var targetScaling: FeatureScaling?
    /// How validation sequences were chosen: "spread" (`SequenceDataset.validationSplit`), or nil
    /// for the file's last ones (runs before it existed).
    public var validationSplit: String?
    /// Where the training labels came from, when not from `source` itself (a `.npy` labels file).
    public var labelsSource: String?
    /// Which CSV columns were read (long-form CSV data), so evaluation reads the same ones.
    public var columns: LongFormColumns?
    /// The feature columns' names, in the order the model reads them (CSV data).
    public var featureNames: [String]?
    /// Whether the model labels every step (tagging) rather than each sequence.
    public var labelsPerStep: Bool?
    /// How a forecaster reads and cuts its CSV (task "forecast").
    public var forecast: ForecastSetup?

    public init(steps: Int, features: Int, classNames: [String], source: String, objective: SupervisedObjective? = nil,
                featureScaling: FeatureScaling? = nil, targetScaling: FeatureScaling? = nil, columns: LongFormColumns? = nil,
                featureNames: [String]? = nil, labelsPerStep: Bool? = nil) {
        self.steps = steps
        self.features = features
        self.classNames = classNames
        self.source = source
        self.objective = objective
        self.featureScaling = featureScaling
        self.targetScaling = targetScaling
        self.columns = columns
        self.featureNames = featureNames
        self.labelsPerStep = labelsPerStep
    }
}

/// `config.json` of a checkpoint folder.
public struct CheckpointConfiguration: Codable, Equatable, Sendable {
    /// Always "rnnkit"; marks a folder RNNKit may overwrite.
    public var format = "rnnkit"
    public var version = 1
    /// "mnist" for image-row classifiers, "sequences" for a user's own sequences.
    public var task: String
    /// The architecture. `recurrent.forgetBias` is already folded into `bias_ih` in model.safetensors.
    public var model: SequenceClassifierConfiguration
    public var data: DataDescription
    /// The options training ran with (absent for a model saved elsewhere, e.g. by PyTorch).
    public var training: TrainingOptions?

    public init(task: String, model: SequenceClassifierConfiguration, data: DataDescription, training: TrainingOptions?) {
        self.task = task
        self.model = model
        self.data = data
        self.training = training
    }
}

/// Where training stands, saved beside the weights so `--resume` continues exactly.
public struct TrainingProgress: Codable, Equatable, Sendable {
    /// Epochs completed.
    public var epoch: Int
    /// Training steps (batches) taken, skipped ones included.
    public var step: Int
    /// Training examples consumed.
    public var samplesSeen: Int
    /// The generator's state after the last completed epoch (shuffles and dropout masks continue from it).
    public var generator: SeededGenerator
    /// The learning rate for the next step (after decay).
    public var learningRate: Double
    /// Seconds spent training so far.
    public var seconds: Double
    /// The lowest validation loss so far (language models keep that model in model.safetensors).
    public var bestValidationLoss: Double?
    /// Steps skipped because their loss or gradients were not finite (`skipNonFiniteSteps`).
    public var skippedSteps: Int?
    /// Where the epoch in flight stands when a checkpoint is taken part-way through it (Ctrl-C, or
    /// an `evaluateEvery` point); nil at epoch boundaries.
    public var partialEpoch: PartialEpoch?

    /// What an epoch stopped part-way needs to continue exactly: the order of its examples (drawn
    /// again from the generator as the epoch began) and, after Ctrl-C, the running sums of the
    /// stretch since the last evaluation point.
    public struct PartialEpoch: Codable, Equatable, Sendable {
        /// The generator before the epoch's shuffle.
        public var generatorAtStart: SeededGenerator
        /// Steps of the epoch already taken.
        public var steps: Int
        /// Examples seen before the epoch began (nil in checkpoints of RNNKit ≤ 0.1, whose
        /// `samplesSeen` stood at the epoch's start until it ended).
        public var samplesAtStart: Int?
        public var lossSum: Double
        /// The task's running sums (e.g. "correct"), when there are any.
        public var sums: [String: Double]?
        /// Correct predictions, in checkpoints of RNNKit ≤ 0.1 (now `sums["correct"]`).
        public var correct: Int?
        /// What the running loss averages over.
        public var seen: Int
        /// Seconds of training in the stretch so far.
        public var seconds: Double
        /// Steps of the stretch skipped as not finite.
        public var skipped: Int?

        public init(generatorAtStart: SeededGenerator, steps: Int, samplesAtStart: Int?, lossSum: Double, sums: [String: Double]?,
                    seen: Int, seconds: Double, skipped: Int?) {
            self.generatorAtStart = generatorAtStart
            self.steps = steps
            self.samplesAtStart = samplesAtStart
            self.lossSum = lossSum
            self.sums = sums
            self.seen = seen
            self.seconds = seconds
            self.skipped = skipped
        }
    }

    public init(epoch: Int, step: Int, samplesSeen: Int, generator: SeededGenerator, learningRate: Double, seconds: Double) {
        self.epoch = epoch
        self.step = step
        self.samplesSeen = samplesSeen
        self.generator = generator
        self.learningRate = learningRate
        self.seconds = seconds
    }
}

/// The files of a checkpoint folder.
public enum CheckpointFile {
    public static let configuration = "config.json"
    public static let model = "model.safetensors"
    public static let trainingState = "training_state.safetensors"
    public static let metrics = "metrics.jsonl"
    public static let curves = "curves.svg"
}

/// Saves and loads classifier checkpoint folders (design: a Hugging Face-like model folder).
public enum ClassifierCheckpoint {
    /// Writes the whole folder atomically: afterwards it holds either everything from before or
    /// everything from this call (`extraFiles` included).
    /// - Parameter best: weights for model.safetensors (as `exportWeights` makes them) when they are
    ///   not the current ones (a forecaster keeps its best by validation loss); the current weights
    ///   then go into training_state.safetensors as `current.<name>`, for `--resume`.
    public static func save(
        to directory: String, configuration: CheckpointConfiguration, model: SequenceClassifier<Float>,
        optimizer: Optimizer<Float>?, progress: TrainingProgress?, metrics: [String], curves: String?,
        best: [String: Tensor<Float>]? = nil, extraFiles: [String: [UInt8]] = [:]
    ) throws(DataError) {
        var (weights, raw) = CheckpointFolder.exportWeights(model.namedParameters, recurrent: configuration.model.recurrent)
        if let best {
            // model.safetensors keeps the best weights; training goes on from the current ones.
            weights = best
            for (name, p) in model.namedParameters { raw["current." + name] = p.value }
        }
        try CheckpointFolder.write(to: directory, configuration: encodeJSON(configuration), weights: weights,
                                   trainingState: optimizer.flatMap { o in progress.map { (raw, o, $0) } },
                                   metrics: metrics, curves: curves, extraFiles: extraFiles)
    }

    /// The weights of `model` as model.safetensors stores them (forget bias folded), for `save`'s `best`.
    public static func exportWeights(_ model: SequenceClassifier<Float>) -> [String: Tensor<Float>] {
        CheckpointFolder.exportWeights(model.namedParameters, recurrent: model.configuration.recurrent).weights
    }

    /// A loaded checkpoint; `progress`, `optimizerState` and `metrics` are there when it can be resumed.
    public struct Loaded {
        public var configuration: CheckpointConfiguration
        public var model: SequenceClassifier<Float>
        public var progress: TrainingProgress?
        public var optimizerSteps: Int
        public var optimizerState: [String: Tensor<Float>]
        public var metrics: [String]
    }

    /// Loads a folder for evaluation (`forResume: false`: the forget bias stays folded into the
    /// biases, exactly the function PyTorch computes) or to continue training (`true`: the unfolded
    /// biases and the optimizer state are restored so the run continues bit for bit).
    /// - Parameter task: the task the folder must hold: "mnist", "sequences" or "forecast".
    public static func load(from directory: String, forResume: Bool, task expected: String = "mnist") throws(DataError) -> Loaded {
        let configPath = directory + "/" + CheckpointFile.configuration
        let bytes = try readFile(configPath)
        struct Task: Decodable { var task: String }
        let task: Task = try decodeJSON(bytes, path: configPath)
        guard task.task == expected else {
            throw .malformed(path: configPath, problem: ["mnist": "not an image-row classifier", "forecast": "not a forecaster"][expected] ?? "not a sequence model",
                             expected: "task \"\(expected)\"", found: "\"\(task.task)\"",
                             hint: task.task == "charlm" ? "Use `rnnkit eval text` (or `rnnkit charlm eval`) for this folder."
                                 : "Use `rnnkit eval \(task.task)` for this folder.")
        }
        let configuration: CheckpointConfiguration = try decodeJSON(bytes, path: configPath)
        do {
            try configuration.model.validate()
        } catch {
            throw .malformed(path: configPath, problem: "invalid model", expected: "a consistent architecture",
                             found: error.description, hint: "Fix the model object of config.json.")
        }
        let trainedForgetBias = configuration.model.recurrent.forgetBias
        let modelPath = directory + "/" + CheckpointFile.model
        let weights = try SafeTensors.read(path: modelPath, as: Float.self).tensors

        let state = forResume ? try CheckpointFolder.readTrainingState(directory) : nil
        var modelConfiguration = configuration.model
        if !forResume { modelConfiguration.recurrent.forgetBias = 0 }  // folded into the biases
        let model = try CheckpointFolder.build(configPath) { (g: inout SeededGenerator) throws(RNNKitError) in
            try SequenceClassifier<Float>(modelConfiguration, generator: &g)
        }
        let current = (state?.tensors ?? [:]).filter { $0.key.hasPrefix("current.") }
        if forResume && !current.isEmpty {
            // Saved beside the best weights: the weights training stopped at, unfolded.
            try CheckpointFolder.assign(Dictionary(uniqueKeysWithValues: current.map { (String($0.key.dropFirst(8)), $0.value) }),
                                        path: directory + "/" + CheckpointFile.trainingState, to: model.namedParameters, raw: nil,
                                        statePath: directory + "/" + CheckpointFile.trainingState)
        } else {
            try CheckpointFolder.assign(weights, path: modelPath, to: model.namedParameters,
                                        raw: forResume && trainedForgetBias != 0 ? state?.tensors : nil,
                                        statePath: directory + "/" + CheckpointFile.trainingState)
        }
        return Loaded(configuration: configuration, model: model, progress: state?.progress, optimizerSteps: state?.steps ?? 0,
                      optimizerState: state?.optimizerState ?? [:], metrics: CheckpointFolder.readMetrics(directory))
    }

    /// Whether `directory` may be written: it does not exist, is empty, or is an RNNKit checkpoint.
    public static func checkWritable(_ directory: String) throws(DataError) {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            // The folder will be made beside its siblings: that parent must exist (or be creatable) and be writable.
            let parent = (URL(fileURLWithPath: directory).standardizedFileURL.path as NSString).deletingLastPathComponent
            do {
                try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
            } catch {
                throw .unwritable(path: directory, reason: "cannot create \(parent): \(error.localizedDescription)",
                                  hint: "Choose an --out folder in a place you can write to.")
            }
            guard fm.isWritableFile(atPath: parent) else {
                throw .unwritable(path: directory, reason: "\(parent) is not writable", hint: "Choose an --out folder in a place you can write to.")
            }
            return
        }
        guard isDirectory.boolValue else {
            throw .malformed(path: directory, problem: "refusing to overwrite a file", expected: "a new, empty or RNNKit folder",
                             found: "a file", hint: "Choose another --out folder.")
        }
        let contents = (try? fm.contentsOfDirectory(atPath: directory)) ?? ["?"]
        if contents.isEmpty { return }
        let configPath = directory + "/" + CheckpointFile.configuration
        struct FormatTag: Decodable { var format: String }
        if let bytes = try? readFile(configPath), let c: FormatTag = try? decodeJSON(bytes, path: configPath),
           c.format == "rnnkit" {
            return
        }
        throw .malformed(path: directory, problem: "refusing to overwrite a folder that is not an RNNKit checkpoint",
                         expected: "a new, empty or RNNKit folder", found: "\(contents.count) other entries",
                         hint: "Choose another --out folder; RNNKit replaces its output folder as a whole.")
    }
}

/// The parts every checkpoint folder shares: weights under PyTorch names with the forget bias
/// folded in, the training state beside them, metrics and curves, written atomically.
enum CheckpointFolder {
    /// Weights for model.safetensors (an LSTM's forget bias folded into the f block, rows H..<2H, of
    /// every `rnn.bias_ih_*`, since PyTorch has none) and the unfolded biases, keyed `raw.<name>`.
    static func exportWeights(_ parameters: [(name: String, variable: Variable<Float>)], recurrent: RecurrentConfiguration)
        -> (weights: [String: Tensor<Float>], raw: [String: Tensor<Float>]) {
        let forgetBias = Float(recurrent.forgetBias), H = recurrent.hiddenSize
        var weights: [String: Tensor<Float>] = [:], raw: [String: Tensor<Float>] = [:]
        for (name, p) in parameters {
            var value = p.value
            if forgetBias != 0, name.hasPrefix("rnn.bias_ih_") {
                raw["raw." + name] = value
                value.withUnsafeMutableBufferPointer { b in for j in H..<(2 * H) { b[j] += forgetBias } }
            }
            weights[name] = value
        }
        return (weights, raw)
    }

    /// Writes the folder; `trainingState` adds training_state.safetensors (extra tensors, the
    /// optimizer's moments under `optimizer.`, the progress and step count as metadata), and
    /// `extraFiles` further files by name (a forecaster's forecast.csv and forecast.svg).
    static func write(
        to directory: String, configuration: [UInt8], weights: [String: Tensor<Float>],
        trainingState: (tensors: [String: Tensor<Float>], optimizer: Optimizer<Float>, progress: TrainingProgress)?,
        metrics: [String], curves: String?, extraFiles: [String: [UInt8]] = [:]
    ) throws(DataError) {
        var files = extraFiles
        files[CheckpointFile.configuration] = configuration
        files[CheckpointFile.model] = SafeTensors.encode(weights, metadata: ["format": "pt"])
        if let (tensors, optimizer, progress) = trainingState {
            var state = tensors
            for (key, t) in optimizer.state { state["optimizer." + key] = t }
            let meta = String(decoding: encodeJSON(progress), as: UTF8.self)
            files[CheckpointFile.trainingState] = SafeTensors.encode(
                state, metadata: ["progress": meta, "optimizer_steps": "\(optimizer.stepCount)"])
        }
        files[CheckpointFile.metrics] = Array(metrics.map { $0 + "\n" }.joined().utf8)
        if let curves { files[CheckpointFile.curves] = Array(curves.utf8) }
        try AtomicFolder.write(files, to: directory)
    }

    /// training_state.safetensors: its tensors, the optimizer's share of them, progress and step count.
    static func readTrainingState(_ directory: String) throws(DataError)
        -> (tensors: [String: Tensor<Float>], optimizerState: [String: Tensor<Float>], progress: TrainingProgress, steps: Int) {
        let statePath = directory + "/" + CheckpointFile.trainingState
        let (tensors, metadata) = try SafeTensors.read(path: statePath, as: Float.self)
        guard let text = metadata["progress"], let steps = metadata["optimizer_steps"].flatMap(Int.init) else {
            throw .malformed(path: statePath, problem: "missing training progress", expected: "progress and optimizer_steps metadata",
                             found: "\(metadata.keys.sorted())", hint: "This folder cannot be resumed; train again with --out.")
        }
        let progress: TrainingProgress = try decodeJSON(Array(text.utf8), path: statePath)
        var optimizerState: [String: Tensor<Float>] = [:]
        for (key, t) in tensors where key.hasPrefix("optimizer.") { optimizerState[String(key.dropFirst(10))] = t }
        return (tensors, optimizerState, progress, steps)
    }

    /// Sets every parameter from `weights`, which must hold exactly the model's names and shapes.
    /// With `raw`, an LSTM's `rnn.bias_ih_*` come from `raw.<name>` there (unfolded, for resuming).
    static func assign(
        _ weights: [String: Tensor<Float>], path: String, to parameters: [(name: String, variable: Variable<Float>)],
        raw: [String: Tensor<Float>]?, statePath: String
    ) throws(DataError) {
        let expected = Set(parameters.map(\.name)), found = Set(weights.keys)
        guard expected == found else {
            let missing = expected.subtracting(found).sorted(), extra = found.subtracting(expected).sorted()
            throw .malformed(path: path, problem: "tensors do not match config.json",
                             expected: "\(expected.count) tensors" + (missing.isEmpty ? "" : ", missing \(missing)"),
                             found: "\(found.count)" + (extra.isEmpty ? "" : ", extra \(extra)"),
                             hint: "The weights were saved for another architecture; check config.json's model.")
        }
        for (name, p) in parameters {
            var value = weights[name]!
            if let raw, name.hasPrefix("rnn.bias_ih_") {
                guard let unfolded = raw["raw." + name] else {
                    throw .malformed(path: statePath, problem: "missing raw." + name, expected: "the unfolded LSTM biases",
                                     found: "none", hint: "This folder cannot be resumed.")
                }
                value = unfolded
            }
            guard value.shape == p.shape else {
                throw .malformed(path: path, problem: "tensor '\(name)' has the wrong shape",
                                 expected: shapeString(p.shape), found: shapeString(value.shape),
                                 hint: "config.json's sizes do not match the weights.")
            }
            p.value = value
        }
    }

    /// Sets the parameters from training_state.safetensors' `current.<name>` tensors when `state` is
    /// given (a resumed run continues from where it stopped), else from model.safetensors' `best`.
    static func assignCurrentOrBest(_ state: [String: Tensor<Float>]?, best: [String: Tensor<Float>], directory: String,
                                    to parameters: [(name: String, variable: Variable<Float>)]) throws(DataError) {
        let statePath = directory + "/" + CheckpointFile.trainingState
        if let state {
            var current: [String: Tensor<Float>] = [:]
            for (key, t) in state where key.hasPrefix("current.") { current[String(key.dropFirst(8))] = t }
            try assign(current, path: statePath, to: parameters, raw: nil, statePath: statePath)
        } else {
            try assign(best, path: directory + "/" + CheckpointFile.model, to: parameters, raw: nil, statePath: "")
        }
    }

    /// Builds a model from config.json's architecture (its random weights are replaced next),
    /// reporting an inconsistent architecture as a problem of that file.
    static func build<Model>(_ configPath: String, _ make: (inout SeededGenerator) throws(RNNKitError) -> Model) throws(DataError) -> Model {
        var generator = SeededGenerator(seed: 0)
        do {
            return try make(&generator)
        } catch {
            throw .malformed(path: configPath, problem: "invalid model", expected: "a consistent architecture",
                             found: error.description, hint: "Fix the model object of config.json.")
        }
    }

    static func readMetrics(_ directory: String) -> [String] {
        let bytes = try? readFile(directory + "/" + CheckpointFile.metrics)
        return bytes.map { String(decoding: $0, as: UTF8.self).split(separator: "\n").map(String.init) } ?? []
    }
}

extension JSONEncoder {
    /// RNNKit's JSON files (config.json, metrics.jsonl): sorted keys, and the non-finite numbers a
    /// diverged run can produce written as the strings "nan", "inf" and "-inf", since JSON has no
    /// such numbers (Python's `json` writes them as bare NaN/Infinity, which is not JSON).
    public static func rnnkit(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }
}

extension JSONDecoder {
    /// Reads what `JSONEncoder.rnnkit()` writes.
    public static var rnnkit: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }
}

func encodeJSON<T: Encodable>(_ value: T) -> [UInt8] {
    // Structs of numbers and strings always encode once non-finite numbers have a spelling.
    Array(try! JSONEncoder.rnnkit(pretty: true).encode(value))
}

func decodeJSON<T: Decodable>(_ bytes: [UInt8], path: String) throws(DataError) -> T {
    do {
        return try JSONDecoder.rnnkit.decode(T.self, from: Data(bytes))
    } catch let DecodingError.keyNotFound(key, context) {
        throw .malformed(path: path, problem: "missing field", expected: "'\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'",
                         found: "none", hint: "See README for the fields of config.json.")
    } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
        throw .malformed(path: path, problem: "wrong type", expected: "'\(context.codingPath.map(\.stringValue).joined(separator: "."))' \(context.debugDescription)",
                         found: "another type", hint: "See README for the fields of config.json.")
    } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
        throw .malformed(path: path, problem: "invalid value", expected: "a valid '\(context.codingPath.map(\.stringValue).joined(separator: "."))'",
                         found: context.debugDescription, hint: "See README for the fields of config.json.")
    } catch {
        throw .malformed(path: path, problem: "invalid JSON", expected: "a JSON object", found: "\(error)", hint: "Check the file's syntax.")
    }
}
