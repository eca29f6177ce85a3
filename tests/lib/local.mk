# tests/lib: what the unit tests share. CHECK_MAIN is the one main() of the
# Check programs (each defines test_suite()); add it to a new program's
# _SOURCES.
CHECK_MAIN = tests/lib/check_main.c tests/lib/check_main.h
