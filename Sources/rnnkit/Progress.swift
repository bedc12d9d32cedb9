import ArgumentParser
import Foundation
import RNNKit

/// Progress display: a live line on a terminal (stderr), nothing in between epochs otherwise.
struct ProgressLine {
    let isTerminal = isatty(STDERR_FILENO) == 1
    private var lastDraw = Date.distantPast

    /// Redraws the line (at most ten times a second, and always for the last step).
    mutating func update(step: Int, of total: Int, since start: Date, _ text: () -> String) {
        guard isTerminal, !outputIsQuiet, Date().timeIntervalSince(lastDraw) > 0.1 || step == total else { return }
        lastDraw = Date()
        let eta = Date().timeIntervalSince(start) / Double(max(step, 1)) * Double(total - step)
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + text() + "  ETA " + formatDuration(eta)).utf8))
    }

    func clear() {
        if isTerminal && !outputIsQuiet { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    }
}

func formatDuration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : String(format: "%d:%02d", s / 60, s % 60)
}

/// Prints one JSON object on one line (the last line of a `--json` run). JSON has no NaN or
/// infinity, so a non-finite number is written as null.
func printJSONLine(_ object: [String: Any]) {
    guard !outputIsQuiet else { return }
    let finite = object.mapValues { value -> Any in
        if let d = value as? Double, !d.isFinite { return NSNull() }
        return value
    }
    let data = try! JSONSerialization.data(withJSONObject: finite, options: [.sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
}

/// Class names of the usual data sets, chosen by the data folder's name.
func classNames(forDataAt directory: String, classes: Int) -> [String] {
    if directory.lowercased().contains("fashion") && classes == 10 {
        return ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    }
    return (0..<classes).map(String.init)
}

/// `--model DIR [--data DIR]`: a saved classifier and the test images it is evaluated on.
struct SavedModelOptions: ParsableArguments {
    @Option(help: "Checkpoint folder (config.json and model.safetensors).") var model: String
    @Option(help: "Folder with the MNIST files (default: the one the model was trained on).") var data: String?

    /// Loads the model for evaluation and the test split, checking the images fit the model.
    func load() throws -> (checkpoint: ClassifierCheckpoint.Loaded, test: ImageClassificationData, directory: String) {
        let loaded = try ClassifierCheckpoint.load(from: model, forResume: false)
        let directory = data ?? loaded.configuration.data.source
        let test = try MNIST.load(directory: directory, split: .test)
        guard test.columns == loaded.configuration.model.features else {
            throw ValidationError("\(directory): images have \(test.columns) columns but the model in \(model) reads "
                                  + "\(loaded.configuration.model.features) features per step.")
        }
        return (loaded, test, directory)
    }
}

/// `runs/<task>-<date>-<time>`: the default output folder of a training run.
func defaultRunFolder(_ task: String) -> String {
    let f = DateFormatter()
    f.dateFormat = "yyyyMMdd-HHmmss"
    return "runs/\(task)-" + f.string(from: Date())
}

/// After Ctrl-C: says where the run stopped and how to go on, and exits with status 130 (128 + SIGINT).
func interrupted(_ directory: String, _ progress: TrainingProgress, command: String) -> ExitCode {
    log("interrupted after step \(progress.step) (\(progress.epoch) epochs complete); checkpoint saved in \(directory)")
    log("resume with: \(command) --resume \(directory)")
    return ExitCode(130)
}

/// `--resume` continues a saved run as it was set up: flags that would change it are refused by name.
func rejectOnResume(_ flags: [(name: String, isSet: Bool)], allowed: String) throws {
    let given = flags.filter(\.isSet).map(\.name)
    guard given.isEmpty else {
        throw ValidationError("--resume continues the saved run as it was set up; \(given.joined(separator: ", ")) cannot change it "
                              + "(with --resume give only \(allowed)). Start a new run with --out to change the setup.")
    }
}
