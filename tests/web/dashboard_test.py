#!/usr/bin/python3
"""The dashboard in a real browser (headless Chromium through Selenium).

Run by DashboardTest (dashboard_test.cpp), which starts `sendense serve`
with a mounted tree and a VM "web1" whose disk holds an ext4 filesystem
with /etc/motd, /home/alice/notes.txt, /data/blob.bin, /many (10,000
files) and /hostile (names that are HTML and script), plus 299 VMs with a
backup each (one never backed up, one failed, one slow to cancel). Every step asserts what a person would see; figures are
printed as "FIGURE name value" lines. Exit status 0 when all passed.
"""

import argparse
import filecmp
import json
import os
import subprocess
import sys
import time
import urllib.request
import zipfile

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

HOSTILE = ['<img src=x onerror=alert(1)>', '"><script>window.__xss=1<\\script>',
           "a&b;'q\"", 'javascript:alert(1)']


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def wait_for(what, fn, timeout=30.0):
    """fn() until it returns something true; AssertionError after timeout."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            value = fn()
            if value:
                return value
        except Exception as e:  # the page is being redrawn
            last = e
        time.sleep(0.1)
    raise AssertionError(f'timed out after {timeout:.0f} s waiting for {what}'
                         + (f' (last error: {last})' if last else ''))


class Dashboard:
    def __init__(self, args):
        self.base = args.base
        self.token = open(args.token_file).read().strip()
        self.mount = args.mount
        self.out = args.out
        self.shots = args.screenshots or os.path.join(args.out, 'screenshots')
        self.downloads = os.path.join(args.out, 'downloads')
        os.makedirs(self.shots, exist_ok=True)
        os.makedirs(self.downloads, exist_ok=True)
        options = webdriver.ChromeOptions()
        options.binary_location = args.chromium
        for a in ['--headless=new', '--no-sandbox', '--disable-gpu',
                  '--disable-background-networking', '--window-size=1280,800',
                  '--disable-dev-shm-usage']:
            options.add_argument(a)
        options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
        self.driver = webdriver.Chrome(service=Service(args.chromedriver),
                                       options=options)
        self.driver.set_window_size(1280, 800)
        self.driver.execute_cdp_cmd('Browser.setDownloadBehavior', {
            'behavior': 'allow', 'downloadPath': self.downloads})
        self.alerts = 0

    # --- helpers -------------------------------------------------------
    def css(self, selector):
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def one(self, selector, timeout=30.0):
        return wait_for(selector, lambda: (self.css(selector) or [None])[0],
                        timeout)

    def click_link(self, text, scope='main'):
        """Clicks the link showing `text` (found and clicked in one step:
        pages that refresh themselves replace their links)."""
        script = (
            'const [scope, text] = arguments;'
            'const a = [...document.querySelectorAll(scope + " a")]'
            '    .find((e) => e.textContent === text);'
            'if (a) a.click();'
            'return !!a;')
        wait_for(f'a link "{text}"',
                 lambda: self.driver.execute_script(script, scope, text))

    def open(self, path):
        """A page by its URL, as a bookmark or reload would."""
        self.driver.get(self.base + path)

    def no_alert(self):
        try:
            alert = self.driver.switch_to.alert
            text = alert.text
            alert.dismiss()
            raise AssertionError(f'a script ran: an alert said {text!r}')
        except NoAlertPresentException:
            pass

    def console_errors(self):
        return [e for e in self.driver.get_log('browser')
                if e['level'] == 'SEVERE']

    def shot(self, name):
        time.sleep(0.4)  # the last frame painted
        self.driver.save_screenshot(os.path.join(self.shots, name + '.png'))

    def api(self, path):
        req = urllib.request.Request(self.base + path, headers={
            'Authorization': 'Bearer ' + self.token})
        with urllib.request.urlopen(req) as r:
            return r.read()

    def downloaded(self, name, timeout=60):
        path = os.path.join(self.downloads, name)
        wait_for(f'the download {name}', lambda: os.path.exists(path) and
                 not os.path.exists(path + '.crdownload'), timeout)
        return path

    def timed_navigation(self, path, rows_selector, rows):
        """ms from a click on a link to `path` until `rows` rows are drawn
        (fetch, JSON, DOM and the next two frames)."""
        return self.driver.execute_async_script('''
            const [path, selector, rows, done] = arguments;
            const a = document.createElement('a');
            a.href = path;
            document.body.append(a);
            document.getElementById('main').replaceChildren();
            const t0 = performance.now();
            a.click();
            a.remove();
            const poll = () => {
              if (document.querySelectorAll(selector).length === rows) {
                requestAnimationFrame(() => requestAnimationFrame(
                    () => done(performance.now() - t0)));
              } else {
                setTimeout(poll, 2);
              }
            };
            poll();''', path, rows_selector, rows)

    # --- the steps -----------------------------------------------------
    def security_headers(self):
        with urllib.request.urlopen(self.base + '/') as r:
            csp = r.headers['Content-Security-Policy']
            check("script-src 'self'" in csp and 'unsafe-inline' not in csp,
                  f'CSP allows inline script: {csp}')
            check(r.headers['X-Content-Type-Options'] == 'nosniff', 'nosniff')
            check(r.headers['Referrer-Policy'] == 'no-referrer',
                  'Referrer-Policy')
            page = r.read().decode()
            check('<script>' not in page, 'inline script in index.html')
        try:
            urllib.request.urlopen(self.base + '/api/v1/overview')
            raise AssertionError('the API answered without the token')
        except urllib.error.HTTPError as e:
            check(e.code == 401, f'no token: {e.code}')

    def sign_in(self):
        self.driver.set_script_timeout(30)
        self.open('/')
        self.one('#user')
        self.shot('sign-in')
        check(not self.one('.nav').is_displayed(),
              'the sign-in page shows the navigation')
        check(not self.one('#logout').is_displayed(),
              'the sign-in page offers "Sign out"')
        self.one('#user').send_keys('nobody')
        self.one('#password').send_keys('not-the-password')
        self.one('form button[type="submit"]').click()
        wait_for('the refusal', lambda: 'Wrong user name' in
                 self.one('.form-error').text)
        refused = self.console_errors()  # read, so the log starts clean
        check(all('401' in e['message'] for e in refused), f'console: {refused}')
        # The appliance's own token, under "with an API token instead".
        self.one('form details summary').click()
        self.one('#token').send_keys(self.token)
        self.one('form button[type="submit"]').click()
        self.one('tr[data-vm="web1"]')
        check(self.one('.nav').is_displayed(), 'no navigation once signed in')
        check(self.one('#logout').is_displayed(), 'no "Sign out" once signed in')
        check('appliance' in self.one('#who').text, 'who is signed in: ' +
              self.one('#who').text)
        check(self.token not in self.driver.current_url, 'token in the URL')
        cookies = self.driver.get_cookies()
        check([c['name'] for c in cookies] == ['sendense_session'] and
              cookies[0]['httpOnly'] and cookies[0]['sameSite'] == 'Strict',
              f'the session cookie: {cookies}')
        seen = self.driver.execute_script(
            'return [document.cookie, JSON.stringify(sessionStorage), '
            'JSON.stringify(localStorage)]')
        check(all(self.token not in v for v in seen) and seen[0] == '',
              f'a script can read the session or the token: {seen}')
        # Reload: still signed in (the browser keeps the cookie).
        self.driver.refresh()
        self.one('tr[data-vm="web1"]')
        # A new tab of the same browser is signed in too.
        first = self.driver.current_window_handle
        self.driver.switch_to.new_window('tab')
        self.open('/jobs')
        self.one('.page-head h1')
        check(not self.css('#user'), 'a new tab asked to sign in again')
        self.driver.close()
        self.driver.switch_to.window(first)

    def backup_from_the_vm_page(self):
        self.click_link('web1')
        wait_for('the VM page', lambda: self.driver.current_url.endswith('/vms/web1'))
        self.one('#backup-now').click()
        card = self.one('.job-card[data-state="running"], .job-card[data-state="queued"]', 30)
        job = card.get_attribute('data-job')
        seen = {card.get_attribute('data-state')}
        def ended():
            for c in self.css(f'.job-card[data-job="{job}"]'):
                seen.add(c.get_attribute('data-state'))
            rows = self.css(f'tr[data-job="{job}"]')
            return rows and rows[0].get_attribute('data-state')
        state = wait_for(f'backup job {job} to end', ended, 300)
        check(state == 'complete', f'job {job} ended {state}')
        check('running' in seen, f'never saw the job running: {seen}')
        points = wait_for('the new point', lambda: [
            r for r in self.css('table.points tr[data-point]')
            if 'complete' in r.text])
        self.shot('vm')
        check(not self.css('table.points .badge-encrypted'),
              'a point of the plain repository is marked encrypted')
        return points[0].get_attribute('data-point')

    def what_changed(self):
        """The VM page's "What changed" between its two newest points says
        what GET /api/v1/diff says."""
        self.open('/vms/web1')
        run = self.one('#diff-run')
        names = [b['name'] for b in json.loads(self.api('/api/v1/backups?vm=web1'))['backups']
                 if b['state'] == 'complete']
        check(self.one('#diff-to').get_attribute('value') == names[-1],
              'the newest point is not chosen as "to"')
        check(self.one('#diff-from').get_attribute('value') == names[-2],
              'the point before it is not chosen as "from"')
        run.click()
        diff = json.loads(self.api(f'/api/v1/diff?vm=web1&from={names[-2]}&to={names[-1]}'))
        s = diff['summary']
        want = f"{s['added']} added, {s['removed']} removed, {s['changed']} changed, {s['renamed']} renamed"
        shown = wait_for('the summary of what changed',
                         lambda: self.css('#diff-summary') and self.one('#diff-summary').text)
        check(shown.startswith(want), f'the page says {shown!r}, the API {want!r}')
        rows = self.css('table.changes tr[data-change]')
        check(len(rows) == min(len(diff['changes']), 10000),
              f'{len(rows)} rows shown, the API lists {len(diff["changes"])}')
        self.driver.execute_script('arguments[0].scrollIntoView()', self.one('#diff-result'))
        self.shot('what-changed')
        print(f'what changed between the two newest points of web1: {want}')

    def suspicious_point(self, point):
        """A point with a suspicious-change report: marked on the VM page
        (its reasons as the title), explained on its page, counted in
        /metrics, and marked reviewed by the button."""
        metrics = self.api('/metrics').decode()
        check('sendense_points_suspicious 1' in metrics, 'the metrics do not count it')
        self.open('/vms/web1')
        mark = self.one(f'tr[data-point="{point}"] .badge-suspicious')
        check('ransom note' in mark.get_attribute('title'), mark.get_attribute('title'))
        self.one(f'tr[data-point="{point}"] a').click()
        box = self.one('#suspicion')
        check('Suspicious change' in box.text and 'ransom note' in box.text, box.text)
        self.shot('suspicious-point')
        self.one('#mark-reviewed').click()
        wait_for('the point reviewed', lambda: self.css('#suspicion') and
                 self.one('#suspicion').text.startswith('Reviewed'))
        record = json.loads(self.api(f'/api/v1/backups/web1/{point}'))
        check(record['suspicion']['state'] == 'reviewed', record['suspicion'])
        check('sendense_points_suspicious 0' in self.api('/metrics').decode(),
              'the metrics still count it')
        self.console_errors()
        print('a suspicious point: marked, explained, reviewed')

    def cancel_a_backup(self):
        self.open('/vms/slow1')
        self.one('#backup-now').click()
        card = self.one('.job-card[data-state="running"]', 30)
        job = card.get_attribute('data-job')
        self.shot('vm-backup-running')
        self.one(f'.job-card[data-job="{job}"] button.danger').click()
        state = wait_for(f'job {job} to end', lambda: [
            r.get_attribute('data-state') for r in self.css(f'tr[data-job="{job}"]')
            if r.get_attribute('data-state') not in ('queued', 'running')], 60)
        check(state == ['cancelled'], f'the cancelled job ended {state}')
        print('cancelled a running backup from its card')

    def export_a_disk(self, point):
        """Instant recovery from the point page: export, read, end."""
        self.open(f'/vms/web1/{point}')
        self.one('button[data-export-disk="sda"]').click()
        uri = wait_for('the export', lambda: [
            c.text for c in self.css('tr[data-export][data-state="serving"] code.uri')
            if c.text.startswith('nbd')])[0]
        self.shot('point')
        tree = os.path.join(self.mount, 'web1', point, 'disks/sda.raw')
        same = subprocess.run(['qemu-img', 'compare', '-f', 'raw', '-F', 'raw', tree, uri],
                              capture_output=True, text=True)
        check(same.returncode == 0, f'the export differs from the point: {same.stdout}{same.stderr}')
        self.one('tr[data-export] button.danger').click()
        wait_for('the export to end', lambda: not self.css('tr[data-export]'))
        # Restores to files need serve --restore-dir: the page says so.
        self.one('#restore-target').send_keys('/tmp/nowhere.raw')
        self.one('.recover form button').click()
        wait_for('the refusal', lambda: 'restore-dir' in self.one('.recover [role="status"]').text)
        refused = self.console_errors()  # read, so the log starts clean
        check(all('403' in e['message'] for e in refused), f'console: {refused}')
        print('exported sda over NBD from the point page: reads as the point; ended')

    def download_a_file(self, point):
        self.open('/vms/web1')
        self.one(f'tr[data-point="{point}"] a').click()
        self.one('tr[data-fs="sda1"] a')
        self.one('tr[data-fs="sda1"] a').click()
        self.click_link('data')
        self.click_link('blob.bin')
        self.one('h1.path')
        wait_for('history', lambda: self.css('table.history tr[data-point]'))
        path = f'/vms/web1/{point}/files/sda1/data/blob.bin'
        check(self.driver.current_url == self.base + path,
              f'the file page URL: {self.driver.current_url}')
        self.css('.page-head button.primary')[0].click()
        got = self.downloaded('blob.bin')
        links = self.driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
            ".filter(n => n.endsWith('/api/v1/download-links')).length")
        check(links >= 1, 'the download was not started through a one-time link')
        tree = os.path.join(self.mount, 'web1', point, 'files/sda1/data/blob.bin')
        check(filecmp.cmp(got, tree, shallow=False),
              'the downloaded file differs from the tree\'s')
        print('downloaded blob.bin:', os.path.getsize(got), 'bytes, same as the tree')

    def download_a_folder(self, point):
        self.open(f'/vms/web1/{point}/files/sda1/home')
        self.one('.page-head button.primary').click()
        archive = self.downloaded('home.zip')
        unpacked = os.path.join(self.out, 'home-unzipped')
        with zipfile.ZipFile(archive) as z:
            z.extractall(unpacked)
        tree = os.path.join(self.mount, 'web1', point, 'files/sda1/home')
        compare = filecmp.dircmp(os.path.join(unpacked, 'home'), tree)
        def differences(d):
            out = d.left_only + d.right_only + d.diff_files + d.funny_files
            for sub in d.subdirs.values():
                out += differences(sub)
            return out
        check(not differences(compare), f'zip differs: {differences(compare)}')
        _, mismatch, errors = filecmp.cmpfiles(
            os.path.join(unpacked, 'home/alice'), os.path.join(tree, 'alice'),
            ['notes.txt'], shallow=False)
        check(not mismatch and not errors, 'notes.txt differs in the zip')
        print('home.zip: same files and bytes as the tree')

    def page_through_a_big_folder(self, point):
        base = f'/vms/web1/{point}/files/sda1/many'
        self.open(base)
        names = []
        pages = 0
        while True:
            rows = wait_for('a page of entries', lambda: self.css('.listing .entry:not(.head)'))
            names += self.driver.execute_script(
                'return [...document.querySelectorAll(".listing .entry .name")].map(e => e.textContent)')
            pages += 1
            if pages == 2:
                self.shot('folder-page')
                check(self.one('.range').text == 'Entries 1,001–2,000',
                      'range text: ' + self.one('.range').text)
            nxt = self.css('.next-page')
            if not nxt:
                break
            first = rows[0].text
            nxt[0].click()
            wait_for('the next page', lambda: self.css('.listing .entry:not(.head)')[0].text != first)
        listed = os.listdir(os.path.join(self.mount, 'web1', point, 'files/sda1/many'))
        expected = sorted(listed)
        check(listed == expected, 'the tree lists a guest folder in name order')
        check(len(names) == 10000 and names == expected,
              f'paged {len(names)} names over {pages} pages, expected 10,000 in name order')
        check(pages == 10, f'{pages} pages of 1,000')
        # Back goes to the page before.
        last_first = self.css('.listing .entry:not(.head)')[0].text
        self.driver.back()
        wait_for('the page before', lambda: self.css('.listing .entry:not(.head)')[0].text != last_first)
        print(f'paged through 10,000 entries in {pages} pages')
        # One page of all 10,000, as the page-size menu asks for.
        self.open(base)
        self.one('.listing .entry:not(.head)')
        ms = [self.timed_navigation(base + '?limit=10000', '.listing .entry:not(.head)', 10000)
              for _ in range(3)]
        print(f'FIGURE folder_page_10000_ms {sorted(ms)[1]:.0f}')
        ms = [self.timed_navigation(base + f'?limit=1000&x={i}', '.listing .entry:not(.head)', 1000)
              for i in range(3)]
        print(f'FIGURE folder_page_1000_ms {sorted(ms)[1]:.0f}')

    def hostile_names(self, point):
        self.open(f'/vms/web1/{point}/files/sda1/hostile')
        wait_for('the hostile names', lambda: len(self.css('.listing .entry:not(.head)')) == len(HOSTILE))
        shown = sorted(a.text for a in self.css('.listing .name a'))
        check(shown == sorted(HOSTILE), f'names shown: {shown}')
        check(not self.css('main img, main script, main b'),
              'a guest name became an element')
        self.no_alert()
        check(self.driver.execute_script('return window.__xss') is None,
              'a guest name ran a script')
        self.shot('hostile-names')
        self.click_link(HOSTILE[0])
        wait_for('the file page', lambda: self.one('h1.path').text == HOSTILE[0])
        self.no_alert()
        check(not self.css('main img'), 'an <img> on the file page')
        errors = self.console_errors()
        check(not errors, f'console errors: {errors}')
        print('hostile names shown as text, no script ran, console clean')

    def history_and_search(self, point, points):
        self.open(f'/vms/web1/{point}/files/sda1/etc/motd')
        rows = wait_for('the history', lambda: self.css('table.history tr[data-point]'))
        check(len(rows) == points, f'{len(rows)} versions for {points} points')
        self.shot('file-history')
        self.open('/search?q=notes.txt&vm=web1')
        text = self.one('#result-count').text
        check(text == f'{points} match{"" if points == 1 else "es"}.',
              f'search said {text!r} for {points} points')
        self.shot('search')
        self.open('/jobs')
        self.one('tr[data-job][data-state="complete"]')
        self.shot('jobs')

    def retention_and_delete(self, newest):
        """The policy preview on the VM page, then deleting the older point
        from its page (the confirm dialog accepted): a forget job."""
        req = urllib.request.Request(
            self.base + '/api/v1/vms/web1/retention', method='PUT',
            data=b'{"keep_last": 1}', headers={'Authorization': 'Bearer ' + self.token})
        urllib.request.urlopen(req).read()
        self.open('/vms/web1')
        self.driver.execute_script('document.querySelectorAll("details").forEach(d => d.open = true)')
        self.one('#preview-policy').click()
        plan = wait_for('the plan', lambda: [r.get_attribute('data-plan') for r in self.css('table.plan tr[data-plan]')])
        check(sorted(plan) == ['drop', 'keep'], f'the plan of keep_last 1 over 2 points: {plan}')
        older = [r.get_attribute('data-point') for r in self.css('table.points tr[data-point]')
                 if r.get_attribute('data-point') != newest][0]
        self.open(f'/vms/web1/{older}')
        self.one('#delete-point').click()
        self.driver.switch_to.alert.accept()
        wait_for('the forget job', lambda: 'Deleting (job' in self.one('.page-head [role="status"]').text)
        self.open('/vms/web1')
        wait_for('one point left', lambda: [r.get_attribute('data-point')
                 for r in self.css('table.points tr[data-point]')] == [newest], 60)
        # The newest point cannot be deleted: the API's sentence shows.
        self.open(f'/vms/web1/{newest}')
        self.one('#delete-point').click()
        self.driver.switch_to.alert.accept()
        wait_for('the refusal', lambda: 'newest' in self.one('.page-head [role="status"]').text)
        self.console_errors()  # the refusal's 400, read so the log starts clean
        print('policy preview shown; older point deleted from its page; newest refused')

    def offline_banner(self):
        self.open('/jobs')
        self.one('.page-head h1')
        self.driver.execute_cdp_cmd('Network.enable', {})
        self.driver.execute_cdp_cmd('Network.emulateNetworkConditions', {
            'offline': True, 'latency': 0, 'downloadThroughput': -1, 'uploadThroughput': -1})
        wait_for('the offline banner', lambda: self.one('#offline').is_displayed(), 10)
        self.driver.execute_cdp_cmd('Network.emulateNetworkConditions', {
            'offline': False, 'latency': 0, 'downloadThroughput': -1, 'uploadThroughput': -1})
        wait_for('the banner to go', lambda: not self.one('#offline').is_displayed(), 10)
        self.console_errors()  # the failed fetches, read
        print('offline banner shown while the appliance did not answer')

    def overview(self, vms, point):
        self.open('/')
        wait_for('every VM', lambda: len(self.css('table.vms tbody tr')) == vms)
        web1 = self.one('tr[data-vm="web1"]')
        check('protected' in web1.text, 'web1 is not shown protected: ' + web1.text)
        self.shot('overview')
        ms = [self.timed_navigation(f'/?x={i}', 'table.vms tbody tr', vms) for i in range(3)]
        print(f'FIGURE overview_{vms}_vms_ms {sorted(ms)[1]:.0f}')
        self.driver.execute_cdp_cmd('Emulation.setEmulatedMedia', {
            'features': [{'name': 'prefers-color-scheme', 'value': 'dark'}]})
        self.open('/')
        self.one('tr[data-vm="web1"]')
        background = self.driver.execute_script(
            'return getComputedStyle(document.body).backgroundColor')
        check(background != 'rgb(245, 247, 251)', 'dark scheme not applied')
        self.shot('overview-dark')
        self.driver.execute_cdp_cmd('Emulation.setEmulatedMedia', {'features': []})
        self.driver.set_window_size(390, 844)
        self.open('/')
        self.one('tr[data-vm="web1"]')
        overflow = self.driver.execute_script(
            'return document.documentElement.scrollWidth - window.innerWidth')
        check(overflow <= 0, f'the phone-width page scrolls sideways by {overflow}px')
        self.shot('overview-phone')
        for path in ['/vms/web1', f'/vms/web1/{point}', f'/vms/web1/{point}/files/sda1/many',
                     f'/vms/web1/{point}/files/sda1/etc/motd', '/jobs', '/search?q=motd']:
            self.open(path)
            self.one('main h1')
            time.sleep(0.5)
            overflow = self.driver.execute_script(
                'return document.documentElement.scrollWidth - window.innerWidth')
            check(overflow <= 0, f'{path} scrolls sideways by {overflow}px at phone width')
        self.shot('search-phone')
        self.driver.set_window_size(1280, 800)

    def sign_out(self):
        self.one('#logout').click()
        self.one('#user')
        check(self.one('.form-error').text == '',
              'signing out said: ' + self.one('.form-error').text)
        check(self.driver.get_cookies() == [], 'the cookie outlived sign-out')

    def fetch(self, method, path):
        """A request made by hand in the page, as a script would: with the
        session cookie and its CSRF token. Answers the status."""
        return self.driver.execute_async_script(
            'const [method, path, done] = arguments;'
            'fetch("/api/v1/whoami").then((r) => r.json()).then((me) =>'
            '  fetch(path, {method, headers: {"X-CSRF-Token": me.csrf_token}}))'
            '.then((r) => done(r.status), (e) => done(String(e)));',
            method, path)

    def tenant_restore_user(self, point):
        """helpdesk@acme (role restore) sees acme's VM only, downloads a
        file, is offered nothing it may not do, and is refused a hand-made
        delete; its session ending brings the sign-in back."""
        self.sign_out()
        self.open('/')
        self.one('#user').send_keys('helpdesk@acme')
        self.one('#password').send_keys('a-good-password')
        self.one('form button[type="submit"]').click()
        self.one('tr[data-vm="web1@acme"]')
        time.sleep(0.5)
        rows = [r.get_attribute('data-vm') for r in self.css('table.vms tbody tr')]
        check(rows == ['web1@acme'], f'helpdesk@acme sees {rows}')
        check(not self.one('.nav a[data-section="tenants"]').is_displayed(),
              'a restore user is offered the tenants page')
        check('restore' in self.one('#who').text, self.one('#who').text)
        self.click_link('web1@acme')
        self.one(f'tr[data-point="{point}"] a')
        check(self.css(f'tr[data-point="{point}"] .badge-encrypted'),
              "acme's point (its own key) is not marked encrypted")
        check(not self.css('#backup-now') and not self.css('#verify-now') and
              not self.css('#preview-policy'),
              'a restore user is offered backups, verify or the policy')
        self.one(f'tr[data-point="{point}"] a').click()
        self.one('tr[data-fs="sda1"] a')
        check(not self.css('#delete-point'), 'a restore user is offered "Delete point"')
        check(not self.css('[data-export-disk]'), 'a restore user is offered exports')
        check(self.css('#restore-target'), 'a restore user is not offered a restore')
        self.shot('restore-user-point')
        self.open(f'/vms/web1@acme/{point}/files/sda1/etc/motd')
        self.one('.page-head button.primary').click()
        got = self.downloaded('motd')
        tree = os.path.join(self.mount, 'web1@acme', point, 'files/sda1/etc/motd')
        check(filecmp.cmp(got, tree, shallow=False), 'the downloaded motd differs')
        self.audit_page_of_a_tenant()
        # What the page does not offer, made by hand: refused, nothing lost.
        here = f'/api/v1/backups/web1@acme/{point}'
        status = self.fetch('DELETE', here)
        check(status == 403, f'a hand-made delete by a restore user: {status}')
        status = self.fetch('DELETE', '/api/v1/backups/web1/' + point)
        check(status == 404, f'another tenant\'s point: {status}')
        check(json.loads(self.api(here))['state'] == 'complete', 'the point is gone')
        self.console_errors()  # the refusals, read
        # The session ends on the server (idle, or signed out in another
        # browser): the page the user watches brings the sign-in back.
        self.open('/vms/web1@acme')
        self.one('tr[data-point]')
        status = self.fetch('DELETE', '/api/v1/sessions/current')
        check(status == 200, f'ending the session: {status}')
        wait_for('the sign-in after the session ended', lambda: self.css('#user') and
                 'session ended' in self.one('.form-error').text, 15)
        self.shot('session-ended')
        self.console_errors()
        print('helpdesk@acme: one VM, a download, no delete, refused by hand')

    def audit_page_of_a_tenant(self):
        """The restore user's audit page lists its tenant's records, newest
        first, its own download among them, and no host page is offered."""
        check(not self.one('.nav a[data-section="hosts"]').is_displayed(),
              'a restore user is offered the hosts page')
        self.click_link('Audit', '.nav')
        wait_for('the download in the audit page', lambda: any(
            'download' in r.text and 'helpdesk@acme' in r.text
            for r in self.css('table.audit tbody tr')))
        shown = [int(r.get_attribute('data-audit'))
                 for r in self.css('table.audit tbody tr')]
        every = json.loads(self.api('/api/v1/audit?limit=100000'))['records']
        acme = [r['id'] for r in every if r['tenant'] == 'acme'][:200]
        check(shown == acme, f'the audit page shows {shown[:5]}..., acme has {acme[:5]}...')
        check(len(acme) < len(every), 'the test has no record of another tenant')
        self.shot('audit-tenant')
        print(f'audit page of acme: {len(shown)} records of {len(every)}')

    def hosts_page(self):
        """The appliance admin's hosts page: each host as the API has it."""
        self.click_link('Hosts', '.nav')
        row = self.one('tr[data-host="kvm9"]')
        host = [x for x in json.loads(self.api('/api/v1/hosts'))['hosts']
                if x['name'] == 'kvm9'][0]
        check(host['reachable'] is False and 'unreachable' in row.text,
              f'kvm9 shown as {row.text!r}, the API says {host}')
        check('0 running of 2, 0 queued' in row.text, row.text)
        check('TCP with TLS' in row.text, row.text)
        self.shot('hosts')
        print('hosts page: kvm9 unreachable, its limit shown')

    def targets_page(self):
        """The appliance admin's targets page: ready or not, as the API says."""
        self.click_link('Targets', '.nav')
        api = {t['name']: t for t in json.loads(self.api('/api/v1/targets'))['targets']}
        copies = api['nas']['last_copies']
        check(api['nas']['ready'] and copies and not api['gone']['ready'],
              f'the API says {api}')
        # Read in one script call: the row may be drawn again in between.
        text = lambda name: self.driver.execute_script(
            f'const r = document.querySelector(\'tr[data-target="{name}"]\');'
            ' return r ? r.innerText : "";')
        wait_for('the targets as the API has them', lambda: (
            'ready' in text('nas') and 'used' in text('nas') and
            'keeps daily 7, weekly 4' in text('nas') and
            'keeps everything' in text('gone') and
            all(c['vm'] in text('nas') and c['backup'] in text('nas') for c in copies) and
            'not ready' in text('gone') and 'is an empty directory' in text('gone')))
        self.shot('targets')
        print(f'targets page: nas ready with {len(copies)} VM(s) copied, gone not ready')

    def tenants_page(self):
        self.open('/')
        self.one('form details summary').click()
        self.one('#token').send_keys(self.token)
        self.one('form button[type="submit"]').click()
        self.one('tr[data-vm="web1"]')
        self.click_link('Tenants', '.nav')
        row = self.one('tr[data-tenant="acme"]')
        acme = [t for t in json.loads(self.api('/api/v1/tenants'))['tenants']
                if t['name'] == 'acme'][0]
        stored = row.find_element(By.CSS_SELECTOR, 'td.usage[data-share]')
        share = float(stored.get_attribute('data-share'))
        check(abs(share - acme['used_bytes'] / acme['quota_bytes']) < 0.001,
              f'the quota share shown {share}, the API says {acme}')
        check(acme['used_bytes'] > 0 and
              row.find_element(By.CSS_SELECTOR, '.bar.quota .bar-fill').size['width'] > 0,
              'no quota bar')
        check(f'{acme["vms"]} of {acme["max_vms"]}' in row.text, row.text)
        self.shot('tenants')
        print(f'tenants page: acme uses {share:.1%} of its quota')
        self.hosts_page()
        self.targets_page()

    def quit(self):
        self.driver.quit()


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--base', required=True)
    p.add_argument('--token-file', required=True)
    p.add_argument('--mount', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--vms', type=int, required=True)
    p.add_argument('--suspicious-point', required=True)
    p.add_argument('--tenant-point', required=True)
    p.add_argument('--screenshots')
    p.add_argument('--chromium', default='/usr/bin/chromium')
    p.add_argument('--chromedriver', default='/usr/bin/chromedriver')
    args = p.parse_args()
    d = Dashboard(args)
    try:
        d.security_headers()
        d.sign_in()
        point = d.backup_from_the_vm_page()
        print('backup from the VM page completed: point', point)
        d.cancel_a_backup()
        d.export_a_disk(point)
        d.download_a_file(point)
        d.download_a_folder(point)
        d.hostile_names(point)
        d.page_through_a_big_folder(point)
        points = len([b for b in json.loads(d.api('/api/v1/backups?vm=web1'))['backups']
                      if b['state'] == 'complete'])
        d.history_and_search(point, points)
        d.what_changed()
        d.suspicious_point(args.suspicious_point)
        d.retention_and_delete(point)
        d.offline_banner()
        d.overview(args.vms, point)
        d.tenant_restore_user(args.tenant_point)
        d.tenants_page()
    except Exception:
        d.shot('failure')
        raise
    finally:
        d.quit()
    print('PASS')


if __name__ == '__main__':
    main()
