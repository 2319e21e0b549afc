"""Guards against async tests that silently never run (a missing plugin makes them 'pass')."""

PYPROJECT_INI = """
[pytest]
asyncio_mode = auto
"""


def test_a_failing_async_test_fails(pytester):
    pytester.makeini(PYPROJECT_INI)
    pytester.makepyfile(
        """
        import asyncio

        async def test_broken():
            await asyncio.sleep(0)
            assert 1 == 2, "this async test must be executed and fail"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*this async test must be executed and fail*"])


async def test_this_suite_runs_coroutines():
    import asyncio

    ran = []

    async def mark():
        ran.append(True)

    await asyncio.gather(mark(), mark())
    assert ran == [True, True]
