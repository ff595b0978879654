"""Waiting for a browser to leave a page, whatever the Chromium in use says meanwhile."""

from selenium.common.exceptions import StaleElementReferenceException, WebDriverException


def left_behind(element):
    """A wait condition: `element` (of the page being left) is no longer in the browser's document.

    Selenium's `staleness_of` knows only StaleElementReferenceException; Chromium 156's driver, asked
    about a node while the next page replaces its document, answers "Node with given id does not belong
    to the document" instead, which means the same.
    """
    def gone(driver):
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:
            if "does not belong to the document" in str(e):
                return True
            raise
        return False
    return gone
