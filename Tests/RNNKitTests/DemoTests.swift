import Foundation
import RNNKit
import Testing

/// Seed 001's published numbers (design.md §2, row "forward"), to 8 significant digits.
private let published: [(pre: [Double], state: [Double], output: [Double])] = [
    ([0.6, 0.5], [0.53704957, 0.46211716], [0.24612839]),
    ([1.2923401, 1.3922568], [0.85973818, 0.88366641], [0.36270710]),
]

/// Half a unit in the 8th significant digit of the published values.
private func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 5e-8 * max(1, abs(b)) }

@Suite struct DemoTests {
    @Test func forwardDemoMatchesTheSeed() throws {
        let steps = try SeedForwardDemo.run()
        #expect(steps.count == published.count)
        for (step, expected) in zip(steps, published) {
            for (a, b) in zip(step.preActivation, expected.pre) { #expect(close(a, b), "pre-activation \(a) vs \(b)") }
            for (a, b) in zip(step.state, expected.state) { #expect(close(a, b), "state \(a) vs \(b)") }
            for (a, b) in zip(step.output, expected.output) { #expect(close(a, b), "output \(a) vs \(b)") }
        }
    }

    /// `rnnkit demo forward` prints those numbers; parse every bracketed list and compare.
    @Test func forwardDemoCommandPrintsTheSeedNumbers() throws {
        let result = try runRNNKit(["demo", "forward"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        func values(_ label: String) -> [[Double]] {
            lines.filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }.map { line in
                let inside = line.split(separator: "[").last!.split(separator: "]").first!
                return inside.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            }
        }
        let (pre, state, output) = (values("before activation:"), values("state:"), values("output:"))
        #expect(pre.count == 2 && state.count == 2 && output.count == 2, "\(result.stdout)")
        for (i, expected) in published.enumerated() where i < min(pre.count, state.count, output.count) {
            #expect(zip(pre[i], expected.pre).allSatisfy(close) && pre[i].count == 2)
            #expect(zip(state[i], expected.state).allSatisfy(close) && state[i].count == 2)
            #expect(zip(output[i], expected.output).allSatisfy(close) && output[i].count == 1)
        }
    }

    @Test func unknownSubcommandFailsWithUsage() throws {
        let result = try runRNNKit(["demo", "backward"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("Usage") || result.stderr.contains("Unexpected argument"), "\(result.stderr)")
    }
}

/// Runs the built `rnnkit` executable, which SwiftPM places beside the test bundle, to its end.
func runRNNKit(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    let running = try RunningRNNKit(arguments, environment: environment)
    return running.wait()
}

/// A started `rnnkit` process whose output is collected in the background (so a full pipe never
/// blocks it), for tests that signal or kill it.
final class RunningRNNKit: @unchecked Sendable {
    let process = Process()
    private let out = Pipe(), err = Pipe()
    private var stdoutData = Data(), stderrData = Data()
    private let lock = NSLock()
    private let group = DispatchGroup()

    /// The built `rnnkit` beside the test bundle.
    static func executable() throws -> URL {
        let buildDirectory = Bundle.main.bundleURL.pathExtension == "xctest"
            ? Bundle.main.bundleURL.deletingLastPathComponent() : Bundle.main.bundleURL
        let candidates = [buildDirectory, URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
            .map { $0.appendingPathComponent("rnnkit") }
        guard let executable = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey:
                "rnnkit not found at \(candidates.map(\.path)); run `swift build` before `swift test`"])
        }
        return executable
    }

    /// Standard input, when the process was started with `input: true` (`send` and `closeInput` write it).
    private var input: Pipe?

    /// Starts `rnnkit arguments`, or with a launcher (`["mpirun", "-np", "2"]`) `launcher rnnkit arguments`,
    /// in this process's environment with `environment` over it (an empty value unsets a variable);
    /// with `input`, standard input is a pipe the test writes.
    init(_ arguments: [String], environment: [String: String] = [:], launcher: [String] = [], input: Bool = false) throws {
        let executable = try Self.executable()
        if launcher.isEmpty {
            process.executableURL = executable
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")  // env finds the launcher on PATH and execs it
            process.arguments = launcher + [executable.path] + arguments
        }
        // This process's environment with `environment` over it; an empty value unsets the variable.
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }.filter { !$0.value.isEmpty }
        process.standardOutput = out
        process.standardError = err
        if input {
            self.input = Pipe()
            process.standardInput = self.input
        }
        try process.run()
        for (pipe, keyPath) in [(out, \RunningRNNKit.stdoutData), (err, \RunningRNNKit.stderrData)] {
            group.enter()
            Thread.detachNewThread { [self] in
                while true {  // chunk by chunk, so a test can watch the output while the process runs
                    let chunk = pipe.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    lock.withLock { self[keyPath: keyPath].append(chunk) }
                }
                group.leave()
            }
        }
    }

    /// Polls until standard error contains `text`, for at most `seconds`; whether it did.
    func waitForStderr(_ text: String, seconds: Double = 60) -> Bool { waitFor(text, in: \.stderrData, seconds: seconds) }

    /// Polls until standard output contains `text`, for at most `seconds`; whether it did.
    func waitForStdout(_ text: String, seconds: Double = 60) -> Bool { waitFor(text, in: \.stdoutData, seconds: seconds) }

    private func waitFor(_ text: String, in keyPath: KeyPath<RunningRNNKit, Data>, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if lock.withLock({ String(decoding: self[keyPath: keyPath], as: UTF8.self).contains(text) }) { return true }
            usleep(1_000)
        }
        return false
    }

    /// Writes `text` to standard input.
    func send(_ text: String) { input?.fileHandleForWriting.write(Data(text.utf8)) }

    /// Ends standard input.
    func closeInput() { try? input?.fileHandleForWriting.close() }

    /// Sends a signal (SIGINT, SIGKILL, ...).
    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the end and returns the exit status (128 + N after signal N) and the output.
    func wait() -> (status: Int32, stdout: String, stderr: String) {
        process.waitUntilExit()
        group.wait()
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return lock.withLock { (status, String(decoding: stdoutData, as: UTF8.self), String(decoding: stderrData, as: UTF8.self)) }
    }
}
