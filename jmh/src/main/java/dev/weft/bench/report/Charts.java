package dev.weft.bench.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Paint;
import java.io.IOException;
import java.text.FieldPosition;
import java.text.NumberFormat;
import java.text.ParsePosition;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.CategoryAxis;
import org.jfree.chart.axis.CategoryLabelPositions;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.ValueAxis;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.category.StatisticalBarRenderer;
import org.jfree.chart.renderer.category.StatisticalLineAndShapeRenderer;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.TextTitle;
import org.jfree.data.statistics.DefaultStatisticalCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** Draws the report's PNG charts with JFreeChart: bars and lines, both with error bars. */
final class Charts {
  private Charts() {}

  /** weft's bars: warm orange; alternatives: cool blues and greys (one shade per series). */
  private static final Color[] WEFT = {
    new Color(0xE0, 0x6C, 0x00), new Color(0xF2, 0xA1, 0x4B), new Color(0xB3, 0x4A, 0x00)
  };

  private static final Color[] OTHERS = {
    new Color(0x4C, 0x72, 0xB0),
    new Color(0x8C, 0x9D, 0xB5),
    new Color(0x2E, 0x4A, 0x7A),
    new Color(0x6A, 0xA8, 0xC8)
  };

  private static final Color[] LINES = {
    new Color(0x4C, 0x72, 0xB0),
    new Color(0x55, 0xA8, 0x68),
    new Color(0x81, 0x72, 0xB2),
    new Color(0x93, 0x78, 0x60),
    new Color(0xDA, 0x8B, 0xC3),
    new Color(0x8C, 0x8C, 0x8C),
    new Color(0x64, 0xB5, 0xCD)
  };

  /**
   * A bar chart: one bar per variant (category), one colour group per series (for
   * {@code @Group} benchmarks a series per role), error bars from JMH's confidence interval.
   * weft's bars are orange, the alternatives' blue.
   *
   * @param data row key = series (role), column key = variant; mean = score, stddev = error
   */
  static void bars(
      Path file,
      String title,
      String subtitle,
      String valueAxis,
      DefaultStatisticalCategoryDataset data,
      Set<String> weftVariants)
      throws IOException {
    CategoryAxis x = new CategoryAxis(null);
    x.setCategoryLabelPositions(CategoryLabelPositions.UP_45);
    x.setMaximumCategoryLabelWidthRatio(1.5f);
    NumberAxis y = new NumberAxis(valueAxis);
    y.setAutoRangeIncludesZero(true);
    StatisticalBarRenderer renderer =
        new StatisticalBarRenderer() {
          private static final long serialVersionUID = 1L;

          @Override
          public Paint getItemPaint(int row, int column) {
            String variant = String.valueOf(data.getColumnKey(column));
            Color[] palette = weftVariants.contains(variant) ? WEFT : OTHERS;
            return palette[row % palette.length];
          }
        };
    for (int i = 0; i < data.getRowCount(); i++) {
      renderer.setSeriesPaint(i, OTHERS[i % OTHERS.length]); // what the legend shows
    }
    renderer.setBarPainter(new StandardBarPainter());
    renderer.setShadowVisible(false);
    renderer.setDrawBarOutline(false);
    renderer.setErrorIndicatorPaint(Color.BLACK);
    renderer.setErrorIndicatorStroke(new BasicStroke(1.2f));
    renderer.setItemMargin(0.05);
    CategoryPlot plot = new CategoryPlot(data, x, y, renderer);
    plot.setOrientation(PlotOrientation.VERTICAL);
    range(y, data);
    style(plot);
    // Legend only when there is more than one series (roles); colours mark weft otherwise.
    JFreeChart chart = new JFreeChart(title, titleFont(), plot, data.getRowCount() > 1);
    finish(chart, subtitle);
    int width = Math.max(640, 120 + 90 * data.getColumnCount() * Math.max(1, data.getRowCount()));
    ChartUtils.saveChartAsPNG(file.toFile(), chart, Math.min(width, 1600), 520);
  }

  /**
   * A line chart of score against thread count, one line per variant, with error bars. When
   * the scores span more than {@value #LOG_SPAN}&times; (a lock that collapses under contention
   * next to one that holds up, or throughput that grows 16-fold), the value axis is
   * logarithmic, so that every line stays readable; the subtitle then says so.
   *
   * @param data row key = variant, column key = thread count (as text, in order)
   */
  static void lines(
      Path file,
      String title,
      String subtitle,
      String valueAxis,
      DefaultStatisticalCategoryDataset data,
      Set<String> weftVariants)
      throws IOException {
    CategoryAxis x = new CategoryAxis("threads");
    boolean log = logScale(data);
    ValueAxis y;
    if (log) {
      LogAxis axis = new LogAxis(valueAxis + " (log scale)");
      axis.setBase(10);
      axis.setSmallestValue(smallestMean(data) / 2);
      axis.setNumberFormatOverride(new Plain()); // 0.0063, not 10^-2.2
      y = axis;
      clampErrors(data);
    } else {
      NumberAxis axis = new NumberAxis(valueAxis);
      axis.setAutoRangeIncludesZero(true);
      y = axis;
    }
    StatisticalLineAndShapeRenderer renderer = new StatisticalLineAndShapeRenderer(true, true);
    renderer.setErrorIndicatorPaint(Color.BLACK);
    List<?> rows = data.getRowKeys();
    int weftIndex = 0;
    int otherIndex = 0;
    for (int i = 0; i < rows.size(); i++) {
      boolean weft = weftVariants.contains(String.valueOf(rows.get(i)));
      Color c = weft ? WEFT[weftIndex++ % WEFT.length] : LINES[otherIndex++ % LINES.length];
      renderer.setSeriesPaint(i, c);
      renderer.setSeriesStroke(i, new BasicStroke(weft ? 3.0f : 1.6f));
    }
    CategoryPlot plot = new CategoryPlot(data, x, y, renderer);
    if (log) {
      double top = 0;
      for (int r = 0; r < data.getRowCount(); r++) {
        for (int c = 0; c < data.getColumnCount(); c++) {
          Number mean = data.getMeanValue(r, c);
          Number sd = data.getStdDevValue(r, c);
          if (mean != null) {
            top = Math.max(top, mean.doubleValue() + (sd == null ? 0 : sd.doubleValue()));
          }
        }
      }
      y.setRange(smallestMean(data) / 2, top * 1.5);
    } else {
      range((NumberAxis) y, data);
    }
    style(plot);
    JFreeChart chart = new JFreeChart(title, titleFont(), plot, true);
    finish(chart, log ? (subtitle.isEmpty() ? "" : subtitle + "  ") + "(log scale)" : subtitle);
    ChartUtils.saveChartAsPNG(file.toFile(), chart, 860, 520);
  }

  /**
   * The x coordinate of percentile {@code p} (0 to 100) on a latency-percentile chart: {@code
   * 1 / (1 - p/100)}, so 50% is 2, 90% is 10, 99% is 100, 99.9% is 1000 (the usual
   * HdrHistogram view: each decade of the logarithmic axis is one more nine). Infinite for 100.
   */
  static double percentileX(double p) {
    return 1 / (1 - p / 100);
  }

  /**
   * A latency-percentile chart: x = percentile on a logarithmic "nines" axis ({@link
   * #percentileX}), y = latency on a logarithmic axis, one line per variant (weft's thick and
   * orange). The maximum (percentile 100) is drawn one decade right of the highest finite
   * percentile of the chart, on a tick labelled "max".
   *
   * @param series variant to (percentile to latency in {@code unit}), in legend order
   */
  static void percentiles(
      Path file,
      String title,
      String subtitle,
      String unit,
      Map<String, NavigableMap<Double, Double>> series,
      Set<String> weftVariants)
      throws IOException {
    double lastFinite = 2;
    double low = Double.POSITIVE_INFINITY;
    double high = 0;
    for (NavigableMap<Double, Double> m : series.values()) {
      for (Map.Entry<Double, Double> e : m.entrySet()) {
        if (e.getKey() < 100) {
          lastFinite = Math.max(lastFinite, percentileX(e.getKey()));
        }
        if (e.getKey() >= 50 && e.getValue() > 0) {
          low = Math.min(low, e.getValue());
          high = Math.max(high, e.getValue());
        }
      }
    }
    double maxX = lastFinite * 10;
    XYSeriesCollection data = new XYSeriesCollection();
    XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
    int weftIndex = 0;
    int otherIndex = 0;
    int i = 0;
    for (Map.Entry<String, NavigableMap<Double, Double>> v : series.entrySet()) {
      XYSeries s = new XYSeries(v.getKey(), true, false);
      for (Map.Entry<Double, Double> e : v.getValue().entrySet()) {
        // From the median up: below it the lines only repeat the uncontended cost.
        if (e.getKey() >= 50 && e.getValue() > 0) {
          s.add(e.getKey() >= 100 ? maxX : percentileX(e.getKey()), e.getValue());
        }
      }
      data.addSeries(s);
      boolean weft = weftVariants.contains(v.getKey());
      renderer.setSeriesPaint(i, weft ? WEFT[weftIndex++ % WEFT.length] : LINES[otherIndex++ % LINES.length]);
      renderer.setSeriesStroke(i, new BasicStroke(weft ? 3.0f : 1.6f));
      i++;
    }
    LogAxis x = new LogAxis("percentile (log scale of 1 / (1 − p): one decade per nine)");
    x.setBase(10);
    x.setRange(1.5, maxX * 1.6);
    x.setTickUnit(new org.jfree.chart.axis.NumberTickUnit(1));
    x.setNumberFormatOverride(new PercentileFormat(maxX));
    LogAxis y = new LogAxis(unit + " (log scale)");
    y.setBase(10);
    y.setNumberFormatOverride(new Plain());
    if (high > 0) {
      y.setRange(low / 1.5, high * 1.5);
    }
    XYPlot plot = new XYPlot(data, x, y, renderer);
    plot.setBackgroundPaint(Color.WHITE);
    plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
    plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
    JFreeChart chart = new JFreeChart(title, titleFont(), plot, true);
    finish(chart, subtitle);
    ChartUtils.saveChartAsPNG(file.toFile(), chart, 860, 520);
  }

  /** Tick labels of the percentile axis: 2 -> "50%", 1000 -> "99.9%", the max tick -> "max". */
  static final class PercentileFormat extends NumberFormat {
    private static final long serialVersionUID = 1L;
    private final double maxX;

    PercentileFormat(double maxX) {
      this.maxX = maxX;
    }

    @Override
    public StringBuffer format(double number, StringBuffer to, FieldPosition pos) {
      return to.append(label(number, maxX));
    }

    @Override
    public StringBuffer format(long number, StringBuffer to, FieldPosition pos) {
      return format((double) number, to, pos);
    }

    @Override
    public Number parse(String source, ParsePosition pos) {
      return null; // labels only
    }

    static String label(double x, double maxX) {
      if (Math.abs(Math.log10(x) - Math.log10(maxX)) < 0.05) {
        return "max";
      }
      if (x > maxX) {
        return "";
      }
      double p = 100 * (1 - 1 / x);
      String s = String.format(Locale.ROOT, "%.6f", p).replaceAll("0+$", "").replaceAll("\\.$", "");
      return s + "%";
    }
  }

  /** Tick labels of a logarithmic axis as plain numbers, formatted like the report's tables. */
  private static final class Plain extends NumberFormat {
    private static final long serialVersionUID = 1L;

    @Override
    public StringBuffer format(double number, StringBuffer to, FieldPosition pos) {
      return to.append(Report.num(number));
    }

    @Override
    public StringBuffer format(long number, StringBuffer to, FieldPosition pos) {
      return to.append(Report.num(number));
    }

    @Override
    public Number parse(String source, ParsePosition pos) {
      throw new UnsupportedOperationException("tick labels are only written");
    }
  }

  /** Highest over lowest mean above which a line chart's value axis is logarithmic. */
  static final double LOG_SPAN = 20;

  /** True if the positive means span more than {@link #LOG_SPAN} (and none is zero or less). */
  static boolean logScale(DefaultStatisticalCategoryDataset data) {
    double lo = Double.POSITIVE_INFINITY;
    double hi = 0;
    for (int r = 0; r < data.getRowCount(); r++) {
      for (int c = 0; c < data.getColumnCount(); c++) {
        Number mean = data.getMeanValue(r, c);
        if (mean == null || Double.isNaN(mean.doubleValue())) {
          continue;
        }
        double m = mean.doubleValue();
        if (m <= 0) {
          return false; // a logarithmic axis cannot show it
        }
        lo = Math.min(lo, m);
        hi = Math.max(hi, m);
      }
    }
    return hi > 0 && hi / lo > LOG_SPAN;
  }

  private static double smallestMean(DefaultStatisticalCategoryDataset data) {
    double lo = Double.POSITIVE_INFINITY;
    for (int r = 0; r < data.getRowCount(); r++) {
      for (int c = 0; c < data.getColumnCount(); c++) {
        Number mean = data.getMeanValue(r, c);
        if (mean != null && mean.doubleValue() > 0) {
          lo = Math.min(lo, mean.doubleValue());
        }
      }
    }
    return Double.isInfinite(lo) ? 1 : lo;
  }

  /**
   * On a logarithmic axis an error bar reaching zero or below cannot be drawn: such errors are
   * cut to 90% of the mean (the bar then spans a factor of 10 below it, far wider than any
   * meaningful interval).
   */
  private static void clampErrors(DefaultStatisticalCategoryDataset data) {
    for (int r = 0; r < data.getRowCount(); r++) {
      for (int c = 0; c < data.getColumnCount(); c++) {
        Number mean = data.getMeanValue(r, c);
        Number sd = data.getStdDevValue(r, c);
        if (mean != null && sd != null && sd.doubleValue() >= 0.9 * mean.doubleValue()) {
          data.add(mean.doubleValue(), 0.9 * mean.doubleValue(), data.getRowKey(r),
              data.getColumnKey(c));
        }
      }
    }
  }

  /**
   * Starts the value axis at zero and ends it just above the highest error bar: a score is never
   * negative, so the lower half of a wide confidence interval is cut at zero, not drawn below.
   */
  private static void range(NumberAxis y, DefaultStatisticalCategoryDataset data) {
    double top = 0;
    for (int r = 0; r < data.getRowCount(); r++) {
      for (int c = 0; c < data.getColumnCount(); c++) {
        Number mean = data.getMeanValue(r, c);
        Number sd = data.getStdDevValue(r, c);
        if (mean != null) {
          top = Math.max(top, mean.doubleValue() + (sd == null ? 0 : sd.doubleValue()));
        }
      }
    }
    if (top > 0 && !Double.isInfinite(top)) {
      y.setRange(0, top * 1.05);
    }
  }

  private static Font titleFont() {
    return new Font(Font.SANS_SERIF, Font.BOLD, 16);
  }

  private static void style(CategoryPlot plot) {
    plot.setBackgroundPaint(Color.WHITE);
    plot.setRangeGridlinePaint(new Color(0xD0, 0xD0, 0xD0));
    plot.setRangeGridlinesVisible(true);
    plot.setOutlineVisible(false);
  }

  private static void finish(JFreeChart chart, String subtitle) {
    chart.setBackgroundPaint(Color.WHITE);
    if (!subtitle.isEmpty()) {
      chart.addSubtitle(new TextTitle(subtitle, new Font(Font.SANS_SERIF, Font.PLAIN, 12)));
    }
  }
}
