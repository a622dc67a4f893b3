/* The command-line front end: one function per subcommand, each parsing its own flags. */
#ifndef LM_CLI_H
#define LM_CLI_H

/* Each returns the process exit status (0 ok, 1 runtime error, 2 usage error). */
int lm_cmd_train(int argc, char **argv);
int lm_cmd_generate(int argc, char **argv);
int lm_cmd_score(int argc, char **argv);
int lm_cmd_tokenizer(int argc, char **argv);
int lm_cmd_complete(int argc, char **argv);
int lm_cmd_fix(int argc, char **argv);
int lm_cmd_eval_code(int argc, char **argv);
int lm_cmd_train_image(int argc, char **argv);
int lm_cmd_imagine(int argc, char **argv);
int lm_cmd_eval_image(int argc, char **argv);

#endif
