// Asks the operator before a risky change, in a modal <dialog> (the keyboard's focus stays in
// it; Escape is "no"). Resolves true only for the yes button.
import { byId } from "../browser/dom";

const dialog = byId<HTMLDialogElement>("ask");
const question = byId("ask-question");
const detail = byId("ask-detail");
const yes = byId<HTMLButtonElement>("ask-yes");
const no = byId<HTMLButtonElement>("ask-no");

export function ask(text: { question: string; detail: string; yes: string }): Promise<boolean> {
  question.textContent = text.question;
  detail.textContent = text.detail;
  yes.textContent = text.yes;
  return new Promise((resolve) => {
    const done = (answer: boolean) => {
      yes.removeEventListener("click", onYes);
      dialog.removeEventListener("close", onClose);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const onYes = () => done(true);
    const onClose = () => done(false);
    yes.addEventListener("click", onYes);
    dialog.addEventListener("close", onClose);
    no.onclick = () => done(false);
    dialog.showModal();
    no.focus(); // the safe answer first
  });
}

/** Each question in turn; true only if every one was answered yes. */
export async function askAll(questions: { question: string; detail: string; yes: string }[]): Promise<boolean> {
  for (const q of questions) if (!(await ask(q))) return false;
  return true;
}
