import ArgumentParser
import Foundation
import RNNKit

extension ForecastMode: ExpressibleByArgument {}
extension MissingValuePolicy: ExpressibleByArgument {}

/// How to read a forecasting CSV: its columns and the missing-value policy.
struct ForecastColumnFlags: ParsableArguments {
    @Option(help: "The CSV file: a header row, then one row per step (default: the preset's, or the run's).") var csv: String?
    @Option(help: "The column(s) to forecast, comma-separated.") var target: String?
    @Option(help: "More input columns (past covariates), comma-separated (default: the targets alone).") var features: String?
    @Option(help: "The column that orders the steps: numbers or dates (default: the file's order).") var time: String?
    @Option(help: "The column that tells several series in one file apart.") var group: String?
    @Option(help: "Missing values: interpolate or drop (default: refuse them, naming their rows).") var missing: MissingValuePolicy?

    static func list(_ text: String?) -> [String]? {
        text.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    }

    /// The flags that change how the file is read, and whether each was given.
    var setupFlags: [(String, Bool)] {
        [("--target", target != nil), ("--features", features != nil), ("--time", time != nil), ("--group", group != nil),
         ("--missing", missing != nil)]
    }
}

/// The series of a forecasting file, read as `setup` says (only the columns it names).
func readSeries(_ path: String, setup: ForecastSetup) throws -> [ForecastSeries] {
    let table = try CSVTable.read(path: path, columns: setup.inputColumns + [setup.time, setup.group].compactMap { $0 })
    return try ForecastSeries.read(table, setup: setup, path: path)
}

/// A forecasting file read and cut as `setup` says.
func readForecast(_ path: String, setup: ForecastSetup) throws -> ForecastProblem {
    try ForecastProblem(series: readSeries(path, setup: setup), setup: setup, path: path)
}

/// A saved forecaster (for evaluation and prediction) and the setup it reads files with.
func loadForecaster(_ model: String) throws -> (loaded: ClassifierCheckpoint.Loaded, setup: ForecastSetup) {
    let loaded = try ClassifierCheckpoint.load(from: model, forResume: false, task: "forecast")
    guard let setup = loaded.configuration.data.forecast else {
        throw DataError.malformed(path: model + "/config.json", problem: "no forecast setup", expected: "data.forecast",
                                  found: "none", hint: "Train the folder again with `rnnkit train forecast`.")
    }
    return (loaded, setup)
}

/// The model's forecasts (in the series' units) at `origins`.
func forecasts(_ model: SequenceClassifier<Float>, problem: ForecastProblem, origins: [ForecastProblem.Origin],
               description: DataDescription) throws -> [Float] {
    let data = problem.dataset(origins)
    let scaled = description.featureScaling.map { data.scaled($0) } ?? data
    var outputs: [Float] = []
    var start = 0
    while start < scaled.count {
        let batch = scaled.examples(start..<min(start + 500, scaled.count))
        outputs += try model.logits(batch.inputs, lengths: batch.lengths).scalars
        start += 500
    }
    return problem.forecasts(outputs: outputs, origins: origins, targetScaling: description.targetScaling)
}

/// The test report: the model beside persistence and seasonal naive on the same windows, the
/// plain verdict, and the `--json` fields; `files` gets forecast.csv and forecast.svg.
func forecastReport(_ model: SequenceClassifier<Float>, problem: ForecastProblem, description: DataDescription, name: String)
    throws -> (fields: [String: Any], files: [String: [UInt8]]) {
    let setup = problem.setup
    let origins = problem.origins(.test)
    guard !origins.isEmpty else { throw ValidationError("\(name): no test window; --test must be at least the horizon.") }
    let predicted = try forecasts(model, problem: problem, origins: origins, description: description)
    let persistence = problem.naive(origins, season: nil)
    let seasonal = setup.season.map { problem.naive(origins, season: $0) }
    let model = problem.errors(predicted, origins: origins), naive = problem.errors(persistence, origins: origins)
    let seasonalErrors = seasonal.map { problem.errors($0, origins: origins) }

    log("test: the last \(setup.test) steps of \(problem.series.count) series, \(origins.count) forecast origins × horizon "
        + "\(setup.horizon) × \(setup.targets.count) target(s) from \(name)")
    func row(_ cells: [String]) -> String {
        cells[0].padding(toLength: 20, withPad: " ", startingAt: 0)
            + cells.dropFirst().map { String(repeating: " ", count: max(0, 12 - $0.count)) + $0 }.joined()
    }
    func row(_ label: String, _ e: ForecastErrors) -> String {
        row([label, String(format: "%.5g", e.meanAbsoluteError), String(format: "%.5g", e.rootMeanSquaredError),
             String(format: "%.2f", e.symmetricMAPE), e.meanAbsoluteScaledError.map { String(format: "%.3f", $0) } ?? "–"])
    }
    log(row(["", "MAE", "RMSE", "sMAPE %", "MASE"]))
    log(row("model", model))
    log(row("persistence", naive))
    if let seasonalErrors, let m = setup.season { log(row("seasonal naive \(m)", seasonalErrors)) }
    let gain = 1 - model.meanAbsoluteError / max(naive.meanAbsoluteError, 1e-300)
    if gain > 0 {
        log(String(format: "the model beats persistence: its MAE is %.1f%% lower than repeating the last value", 100 * gain))
    } else {
        log(String(format: "the model LOSES to persistence: its MAE is %.1f%% higher than repeating the last value; ", -100 * gain)
            + "try --mode difference or relative, a longer --window, or more epochs")
    }
    if let seasonalErrors, model.meanAbsoluteError >= seasonalErrors.meanAbsoluteError {
        log("the model does not beat the seasonal-naive forecast either (same value one season back)")
    }
    var fields: [String: Any] = [
        "test_mae": model.meanAbsoluteError, "test_rmse": model.rootMeanSquaredError, "test_smape": model.symmetricMAPE,
        "test_mase": model.meanAbsoluteScaledError ?? NSNull(), "persistence_mae": naive.meanAbsoluteError,
        "persistence_rmse": naive.rootMeanSquaredError, "seasonal_naive_mae": seasonalErrors?.meanAbsoluteError ?? NSNull(),
        "test_origins": origins.count, "beats_persistence": gain > 0,
    ]
    if let seasonalErrors { fields["seasonal_naive_rmse"] = seasonalErrors.rootMeanSquaredError }
    let files = [
        "forecast.csv": Array(forecastCSV(problem, origins: origins, predicted: predicted, persistence: persistence, seasonal: seasonal).utf8),
        "forecast.svg": Array(forecastPlot(problem, origins: origins, predicted: predicted, persistence: persistence,
                                           title: "\(name): test MAE \(String(format: "%.4g", model.meanAbsoluteError)), persistence "
                                               + String(format: "%.4g", naive.meanAbsoluteError)).utf8),
    ]
    return (fields, files)
}

/// Every test forecast, one row per origin, step ahead and target (long form, for pandas or R).
func forecastCSV(_ problem: ForecastProblem, origins: [ForecastProblem.Origin], predicted: [Float], persistence: [Float],
                 seasonal: [Float]?) -> String {
    let setup = problem.setup, K = setup.targets.count, actual = problem.actual(origins)
    var lines = ["series,origin_time,time,step,target,actual,forecast,persistence" + (seasonal != nil ? ",seasonal_naive" : "")]
    for (n, o) in origins.enumerated() {
        let s = problem.series[o.series]
        for h in 0..<setup.horizon {
            for k in 0..<K {
                let j = (n * setup.horizon + h) * K + k
                lines.append([csvField(s.name ?? ""), csvField(s.times[o.start - 1]), csvField(s.times[o.start + h]), "\(h + 1)",
                              csvField(setup.targets[k]), "\(actual[j])", "\(predicted[j])", "\(persistence[j])"].joined(separator: ",")
                             + (seasonal.map { ",\($0[j])" } ?? ""))
            }
        }
    }
    return lines.joined(separator: "\n") + "\n"
}

/// forecast.svg: the first series' history, actual values over the test span, and the forecasts
/// made every `horizon` steps from its start (each reaching `horizon` steps ahead), with persistence.
func forecastPlot(_ problem: ForecastProblem, origins: [ForecastProblem.Origin], predicted: [Float], persistence: [Float],
                  title: String) -> String {
    let setup = problem.setup, K = setup.targets.count, s = problem.series[0], w = problem.windows[0]
    let testStart = problem.spans(0).testStart
    let from = max(0, testStart - max(2 * setup.test, 2 * setup.window))
    let steps = from..<s.steps
    var panels: [(name: String, lines: [PlotLine])] = []
    for k in 0..<K {
        var forecast = [Double?](repeating: nil, count: steps.count), naive = forecast
        for (n, o) in origins.enumerated() where o.series == 0 && (o.start - testStart) % setup.horizon == 0 {
            for h in 0..<setup.horizon where o.start + h < s.steps {
                let j = (n * setup.horizon + h) * K + k
                forecast[o.start + h - from] = Double(predicted[j])
                naive[o.start + h - from] = Double(persistence[j])
            }
        }
        panels.append((setup.targets[k] + (s.name.map { " (\($0))" } ?? ""), [
            PlotLine(label: "actual", color: "#333333", values: steps.map { Double(w.values[$0 * w.columns + k]) }),
            PlotLine(label: "persistence", color: "#999999", dashed: true, values: naive),
            PlotLine(label: "forecast", color: "#d62728", values: forecast),
        ]))
    }
    return forecastSVG(title: title, times: Array(s.times[steps]), split: testStart - from, panels: panels)
}

/// Writes `text` to `path` atomically (a temporary file, then a rename).
func writeTextFile(_ text: String, to path: String) throws {
    try writeDataFile(Data(text.utf8), to: path)
}

/// Writes `data` to `path` atomically (a temporary file, then a rename): never a half-written file.
func writeDataFile(_ data: Data, to path: String) throws {
    do {
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw DataError.unwritable(path: path, reason: error.localizedDescription, hint: "Choose an --out file in a place you can write to.")
    }
}

struct TrainForecast: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "Train a forecaster on a time series in CSV: --window past steps predict the next --horizon values of --target.",
        discussion: """
        Splits are chronological: the last --test steps of each series for testing, the --validation steps before them \
        for validation, the rest for training; scaling uses training statistics only. --mode sets what the model reads and \
        predicts: absolute levels, relative (changes from the window's last value), or difference (changes in, changes out). \
        The test report sets the model beside persistence and, with --season, seasonal naive, on the same windows. \
        forecast.csv and forecast.svg go in the run folder.

        Defaults: mode difference, LSTM 64, readout final, Adam 1e-3, batch 32, 30 epochs, --test and --validation a tenth \
        of the shortest series (at least the horizon). Presets: \(ForecastPreset.allCases.map(\.rawValue).joined(separator: ", ")) \
        (`make forecast-presets` installs their data).
        """
    )

    @OptionGroup var columns: ForecastColumnFlags
    @Option(help: "Past steps each forecast reads.") var window: Int?
    @Option(help: "Steps forecast.") var horizon: Int?
    @Option(help: "Steps at the end of each series held out for testing.") var test: Int?
    @Option(help: "Seasonal period for the seasonal-naive baseline and MASE (e.g. 24 for hourly, 7 for daily data).") var season: Int?
    @Option(help: "absolute, relative or difference (what the model reads and predicts).") var mode: ForecastMode?
    @Option(help: "A ready setup on real data: \(ForecastPreset.allCases.map(\.rawValue).joined(separator: ", ")).") var preset: String?
    @OptionGroup var flags: ClassifierFlags

    func validate() throws {
        if let preset, ForecastPreset(rawValue: preset) == nil {
            throw ValidationError("unknown preset '\(preset)'; choose one of \(ForecastPreset.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        for (name, value) in [("--window", window), ("--horizon", horizon), ("--test", test), ("--season", season)] {
            if let value, value <= 0 { throw ValidationError("\(name) must be at least 1 (found \(value)).") }
        }
        if flags.resume != nil {
            try flags.rejectSetupFlags(also: columns.setupFlags + [("--window", window != nil), ("--horizon", horizon != nil),
                                                                   ("--test", test != nil), ("--season", season != nil), ("--mode", mode != nil),
                                                                   ("--preset", preset != nil)])
        } else if preset == nil && (columns.csv == nil || columns.target == nil || window == nil || horizon == nil) {
            throw ValidationError("give --csv FILE --target COLUMN --window N --horizon H (or --preset NAME, or --resume DIR).")
        }
        if flags.readout == .steps { throw ValidationError("--readout steps labels every step; a forecaster reads a window (last or final).") }
    }

    /// The setup the flags (over the preset) ask for, with --test and --validation defaults from the series' lengths.
    private func setup(preset: ForecastPreset?, path: String) throws -> ForecastSetup {
        let base = preset?.setup
        guard let targets = ForecastColumnFlags.list(columns.target) ?? base?.targets, !targets.isEmpty else {
            throw ValidationError("--target names no column.")
        }
        var setup = ForecastSetup(targets: targets, features: ForecastColumnFlags.list(columns.features) ?? base?.features ?? [],
                                  time: columns.time ?? base?.time, group: columns.group ?? base?.group,
                                  window: window ?? base?.window ?? 0, horizon: horizon ?? base?.horizon ?? 0,
                                  season: season ?? base?.season, mode: mode ?? base?.mode ?? .difference,
                                  missing: columns.missing ?? base?.missing, test: 0, validation: 0)
        let givenTest = test ?? base?.test, givenValidation = flags.validation ?? base?.validation
        var shortest = 0
        if givenTest == nil || givenValidation == nil {
            // The defaults are a tenth of the shortest series: read it once to learn its length.
            shortest = try readSeries(path, setup: setup).map(\.steps).min() ?? 0
        }
        setup.test = givenTest ?? max(setup.horizon, shortest / 10)
        setup.validation = givenValidation ?? max(setup.horizon, shortest / 10)
        guard setup.test >= setup.horizon else {
            throw ValidationError("--test \(setup.test) holds no whole forecast of --horizon \(setup.horizon) steps; give at least \(setup.horizon).")
        }
        guard setup.validation == 0 || setup.validation >= setup.horizon else {
            throw ValidationError("--validation \(setup.validation) holds no whole forecast of --horizon \(setup.horizon) steps; give 0 or at least \(setup.horizon).")
        }
        return setup
    }

    func run() throws {
        let group = try joinProcessGroup(distributed: flags.distributed)
        let resumed = try flags.resume.map { try ClassifierCheckpoint.load(from: $0, forResume: true, task: "forecast") }
        let preset = self.preset.flatMap(ForecastPreset.init(rawValue:))
        guard let path = columns.csv ?? resumed?.configuration.data.source ?? preset?.path else {
            throw ValidationError("give the series with --csv FILE.")
        }
        if let preset, columns.csv == nil, !FileManager.default.fileExists(atPath: preset.path) {
            throw DataError.missing(path: preset.path, what: "the \(preset.rawValue) preset's data",
                                    hint: "Install it with `make forecast-presets` (Debian's \(ForecastPreset.package)), or give --csv FILE.")
        }
        let setup: ForecastSetup
        if let saved = resumed?.configuration.data.forecast { setup = saved } else { setup = try self.setup(preset: preset, path: path) }
        let problem = try readForecast(path, setup: setup)
        let trainOrigins = problem.origins(.train), validationOrigins = problem.origins(.validation)
        let trainRaw = problem.dataset(trainOrigins), validationRaw = problem.dataset(validationOrigins)

        // Regression on the windows, scaled as `data` says (training statistics only).
        func task(_ model: SequenceClassifier<Float>, _ data: DataDescription, batchSize: Int) throws -> SupervisedTask<SequenceDataset> {
            try SupervisedTask(model: model, train: trainRaw.scaled(data.featureScaling!, targets: data.targetScaling),
                               validation: validationRaw.scaled(data.featureScaling!, targets: data.targetScaling),
                               batchSize: batchSize, objective: .regression, targetScaling: data.targetScaling)
        }

        let directory: String
        let trainer: Trainer<SupervisedTask<SequenceDataset>>
        var checkpoint: CheckpointConfiguration
        var metricLines: [String] = []
        if let resume = flags.resume, let loaded = resumed {
            let (resumedCheckpoint, options, progress) = try flags.continuing(loaded, from: resume)
            checkpoint = resumedCheckpoint
            trainer = try Trainer(task: task(loaded.model, checkpoint.data, batchSize: options.batchSize), schedule: options.schedule,
                                  resume: (progress, loaded.optimizerSteps, loaded.optimizerState), group: group)
            directory = flags.out ?? resume
            metricLines = loaded.metrics
            log(resumeNote(resume, progress))
        } else {
            var defaults = TrainingOptions()
            defaults.epochs = 30
            defaults.batchSize = 32
            let width = setup.inputColumns.count, outputs = setup.horizon * setup.targets.count
            let base = SequenceClassifierConfiguration(
                features: width, recurrent: RecurrentConfiguration(cell: .lstm, inputSize: width, hiddenSize: 64), readout: .final,
                classes: outputs)
            var (model, options) = flags.apply(to: preset?.model(base, defaults) ?? (base, defaults))
            options.validationCount = setup.validation
            try options.validate()
            directory = flags.out ?? defaultRunFolder("forecast")
            try ClassifierCheckpoint.checkWritable(directory)
            var description = DataDescription(steps: setup.window, features: width, classNames: [], source: path, objective: .regression,
                                              featureNames: setup.inputColumns)
            description.forecast = setup
            description.featureScaling = FeatureScaling.fit(problem.trainingInputs(), width: width)
            if case let .targets(t, w) = trainRaw.labels { description.targetScaling = FeatureScaling.fit(t, width: w) }
            var generator = SeededGenerator(seed: options.seed)
            let forecaster = try SequenceClassifier<Float>(model, generator: &generator)
            trainer = try Trainer(task: task(forecaster, description, batchSize: options.batchSize), schedule: options.schedule, group: group)
            checkpoint = CheckpointConfiguration(task: "forecast", model: model, data: description, training: options)
            let r = model.recurrent
            log("model: \(r.cell.rawValue) \(r.hiddenSize)\(r.isBidirectional ? "×2" : "") × \(r.numLayers) layer(s), readout "
                + "\(model.readout.rawValue), \(outputs) output(s) (horizon \(setup.horizon) × \(setup.targets.count) target(s)), mode "
                + "\(setup.mode.rawValue), \(forecaster.namedParameters.reduce(0) { $0 + $1.variable.value.count }) parameters")
            log("data: \(path): \(problem.series.count) series, \(problem.series.map(\.steps).reduce(0, +)) steps of "
                + "\(width) column(s) (\(setup.inputColumns.joined(separator: ", "))); windows of \(setup.window): \(trainOrigins.count) training, "
                + "\(validationOrigins.count) validation; test: the last \(setup.test) steps")
            log("training: \(options.optimizer.kind.rawValue) lr \(options.optimizer.learningRate), batch \(options.batchSize), "
                + (options.samples.map { "\($0) samples" } ?? "\(options.epochs) epochs") + ", seed \(options.seed); saving to \(directory)")
        }

        // model.safetensors keeps the weights with the lowest validation loss (Keras EarlyStopping's
        // restore_best_weights); without validation, the last.
        var best = try flags.resume.map { try ClassifierCheckpoint.load(from: $0, forResume: false, task: "forecast") }
            .map { ClassifierCheckpoint.exportWeights($0.model) } ?? ClassifierCheckpoint.exportWeights(trainer.task.model)
        let save = { (lines: [String], curves: String, extra: [String: [UInt8]]) throws in
            try ClassifierCheckpoint.save(to: directory, configuration: checkpoint, model: trainer.task.model, optimizer: trainer.optimizer,
                                          progress: trainer.progress, metrics: lines, curves: curves, best: best, extraFiles: extra)
        }
        var lastCurves = ""
        try group.describe(batch: trainer.task.batchSize)
        _ = try runTraining(trainer, directory: directory, command: "rnnkit train forecast", metrics: &metricLines, save: { lines, curves in
            lastCurves = curves
            try save(lines, curves, [:])
        }, quiet: { m in
            if m.isBest { best = ClassifierCheckpoint.exportWeights(trainer.task.model) }
            return false
        })
        defer { group.finish() }
        guard group.isPrimary else { return }  // the forecasts and their files are rank 0's
        var summary = trainingSummary(trainer, directory: directory)
        let chosen = try ClassifierCheckpoint.load(from: directory, forResume: false, task: "forecast")
        if let bestEpoch = trainer.progress.bestValidationLoss.flatMap({ loss in
            metricLines.compactMap { try? JSONDecoder().decode(TrainingMetrics.self, from: Data($0.utf8)) }.last { $0.validationLoss == loss }?.epoch }) {
            log("forecasting with the weights of epoch \(bestEpoch), the lowest validation loss")
            summary["best_epoch"] = bestEpoch
        }
        let (fields, files) = try forecastReport(chosen.model, problem: problem, description: checkpoint.data, name: path)
        summary.merge(fields) { $1 }
        try save(metricLines, lastCurves, files)
        log("model, forecast.csv and forecast.svg saved in \(directory)")
        if flags.json { printJSONLine(summary) }
    }
}

struct EvalForecast: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "A saved forecaster on the last --test steps of a CSV file, beside persistence and seasonal naive.")

    @Option(help: "Checkpoint folder.") var model: String
    @Option(help: "The CSV file (default: the one it was trained on); columns as in training.") var csv: String?
    @Option(help: "Steps at the end of each series to forecast (default: the training run's --test).") var test: Int?
    @Option(help: "Also write forecast.csv and forecast.svg into this folder.") var out: String?
    @Flag(help: "End with one line of JSON holding the results.") var json = false

    func run() throws {
        var (loaded, setup) = try loadForecaster(model)
        let description = loaded.configuration.data
        if let test {
            guard test >= setup.horizon else { throw ValidationError("--test must be at least the horizon (\(setup.horizon)); found \(test).") }
            setup.test = test
        }
        setup.validation = 0
        let path = csv ?? description.source
        let problem = try readForecast(path, setup: setup)
        let (fields, files) = try forecastReport(loaded.model, problem: problem, description: description, name: path)
        if let out {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            for (name, bytes) in files { try writeTextFile(String(decoding: bytes, as: UTF8.self), to: out + "/" + name) }
            log("forecast.csv and forecast.svg written to \(out)")
        }
        if json { printJSONLine(fields.merging(["model": model]) { $1 }) }
    }
}

struct PredictForecast: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast", abstract: "Forecast the --horizon steps after the end of each series of a CSV file; writes CSV.")

    @Option(help: "Checkpoint folder.") var model: String
    @Option(help: "The CSV file whose end to forecast from (columns as in training).") var csv: String
    @Option(help: "CSV file to write (default: standard output).") var out: String?

    func run() throws {
        var (loaded, setup) = try loadForecaster(model)
        let description = loaded.configuration.data
        var series = try readSeries(csv, setup: setup)
        // The steps to forecast, unknown, after each series' end: the last test span of a problem
        // that needs no training window.
        let width = setup.inputColumns.count
        var future: [[String]] = []
        for i in series.indices {
            let first = setup.window + (setup.mode == .difference ? 1 : 0)
            guard series[i].steps >= first else {
                throw ValidationError("\(csv): the series\(series[i].name.map { " '\($0)'" } ?? "") has \(series[i].steps) steps; "
                                      + "the model reads \(first) (window \(setup.window)\(setup.mode == .difference ? " + 1 to difference" : "")).")
            }
            future.append(ForecastTime.following(series[i].times, count: setup.horizon) ?? (1...setup.horizon).map { "+\($0)" })
            series[i].values += [Float](repeating: .nan, count: setup.horizon * width)
            series[i].times += future[i]
        }
        setup.test = setup.horizon
        setup.validation = 0
        let problem = ForecastProblem(unchecked: series, setup: setup)
        let origins = problem.origins(.test)
        let predicted = try forecasts(loaded.model, problem: problem, origins: origins, description: description)
        let K = setup.targets.count
        var lines = [(setup.group != nil ? "series," : "") + "time,step," + setup.targets.map(csvField).joined(separator: ",")]
        for (n, o) in origins.enumerated() {
            for h in 0..<setup.horizon {
                let values = (0..<K).map { "\(predicted[(n * setup.horizon + h) * K + $0])" }
                lines.append((setup.group != nil ? csvField(series[o.series].name ?? "") + "," : "") + csvField(future[o.series][h]) + ",\(h + 1),"
                             + values.joined(separator: ","))
            }
        }
        let text = lines.joined(separator: "\n") + "\n"
        if let out {
            try writeTextFile(text, to: out)
            log("\(origins.count * setup.horizon) forecast rows written to \(out)")
        } else {
            print(text, terminator: "")
        }
    }
}
