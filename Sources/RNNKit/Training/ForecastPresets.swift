/// Forecasting presets on real series from Debian's `python3-vega-datasets` (installed by
/// `make forecast-presets`). Each was measured against persistence on its test span (README).
public enum ForecastPreset: String, CaseIterable, Sendable {
    /// Hourly temperature in Seattle, 2010 (8,759 steps): a day ahead from three days, season 24,
    /// the last 30 days for testing.
    case seattleTemps = "seattle-temps"
    /// Daily weather in Seattle, 2012–2015 (1,461 days): the next 3 days' maximum temperature from
    /// 4 weeks of maximum and minimum temperature, rain and wind; the last 6 months for testing.
    case seattleWeather = "seattle-weather"
    /// US nonfarm employment, monthly 2006–2015 (120 months, in thousands): the next 3 months from
    /// the last 12, which has a trend; the last year for testing.
    case usEmployment = "us-employment"

    /// The Debian package holding the presets' data.
    public static let package = "python3-vega-datasets"
    static let folder = "/usr/lib/python3/dist-packages/vega_datasets/_data/"

    public var path: String { Self.folder + rawValue + ".csv" }

    /// How the preset reads and cuts its file.
    public var setup: ForecastSetup {
        switch self {
        case .seattleTemps:
            ForecastSetup(targets: ["temp"], time: "date", window: 72, horizon: 24, season: 24, mode: .difference, test: 720, validation: 720)
        case .seattleWeather:
            ForecastSetup(targets: ["temp_max"], features: ["temp_min", "precipitation", "wind"], time: "date", window: 28, horizon: 3,
                          season: nil, mode: .difference, test: 183, validation: 183)
        case .usEmployment:
            ForecastSetup(targets: ["nonfarm"], time: "month", window: 12, horizon: 3, season: 12, mode: .difference, test: 12, validation: 12)
        }
    }

    /// The preset's model and training settings, from the forecast defaults `base`.
    public func model(_ base: SequenceClassifierConfiguration, _ training: TrainingOptions) -> (SequenceClassifierConfiguration, TrainingOptions) {
        (base, training)
    }
}
