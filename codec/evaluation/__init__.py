"""The evaluation harness: classical codecs, the evaluation run, its reports
and its command line. Imports the codec core; the core never imports this
package."""
