#!/usr/bin/env python3
"""Prints each failed test of the given TRX files with the head of its message.

deploy/test.sh runs it last, so that the end of a test run's output (often all that a CI page
keeps) names what failed and why, not only the tail of a stack trace.
"""
import sys
import xml.etree.ElementTree as ET

NS = "{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}"
MESSAGE_LINES = 25

for path in sys.argv[1:]:
    for result in ET.parse(path).getroot().iter(NS + "UnitTestResult"):
        if result.get("outcome") != "Failed":
            continue
        message = result.find(f"{NS}Output/{NS}ErrorInfo/{NS}Message")
        lines = (message.text or "").splitlines() if message is not None else []
        print(f"FAILED {result.get('testName')} after {result.get('duration')}")
        for line in lines[:MESSAGE_LINES]:
            print(f"  {line[:2000]}")
        if len(lines) > MESSAGE_LINES:
            print(f"  ... {len(lines) - MESSAGE_LINES} more lines in the TRX file")
